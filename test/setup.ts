import { afterEach } from 'vitest';

import { backend, isa, useBackend } from '../lib/bridge/backend.js';

// Suites switch the backend and ISA level to compare them; every test starts from the load-time choice.
afterEach(() => {
  useBackend(backend, backend === 'native' ? isa : undefined);
});
