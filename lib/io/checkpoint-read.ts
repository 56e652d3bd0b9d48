/**
 * Reading a checkpoint file: the header first (its length checked against the file before it is
 * read), then every tensor straight into a Float32Array of its own with positioned reads of at most
 * `ioLimits.chunkBytes` each. Nothing holds the whole file at once, so a file of any size the
 * optimizer's state can have loads (fs.readFileSync stops at 2 GiB), and no read asks the file
 * system for more than it can do in one call.
 * @internal
 */
import * as fs from 'node:fs';

import { assemble, headerLength, parseLayout, type Layout } from './checkpoint-format.js';

/** The largest single read or write; lowered by the tests to exercise the chunking. @internal */
export const ioLimits = { chunkBytes: 1 << 30 };

type Decoded = ReturnType<typeof assemble>;

/** A read that found less than the header promised: the file changed or shrank while it was read. */
function shortRead(where: string, file: string, position: number): RangeError {
  return new RangeError(`${where}: ${file} is not a valid simd-optim checkpoint: it ended at byte ${position} while being read (truncated?)`);
}

function readFullySync(where: string, file: string, fd: number, into: Uint8Array, position: number): void {
  for (let done = 0; done < into.byteLength;) {
    const length = Math.min(into.byteLength - done, ioLimits.chunkBytes);
    const got = fs.readSync(fd, into, done, length, position + done);
    if (!(got > 0)) throw shortRead(where, file, position + done);
    done += got;
  }
}

async function readFully(where: string, file: string, handle: fs.promises.FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < into.byteLength;) {
    const length = Math.min(into.byteLength - done, ioLimits.chunkBytes);
    const { bytesRead } = await handle.read(into, done, length, position + done);
    if (!(bytesRead > 0)) throw shortRead(where, file, position + done);
    done += bytesRead;
  }
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Reads and checks a whole checkpoint file. */
export function readCheckpointSync(where: string, file: string): Decoded {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const first8 = new Uint8Array(8);
    if (size >= 8) readFullySync(where, file, fd, first8, 0);
    const header = new Uint8Array(headerLength(where, file, first8, size));
    readFullySync(where, file, fd, header, 8);
    const layout: Layout = parseLayout(where, file, header, size);
    const data = new Map<string, Float32Array>();
    for (const t of layout.ordered) {
      const values = new Float32Array(t.length);
      readFullySync(where, file, fd, bytesOf(values), layout.dataStart + t.begin);
      data.set(t.key, values);
    }
    return assemble(where, file, layout, data);
  } finally {
    fs.closeSync(fd);
  }
}

/** readCheckpointSync without blocking the event loop. */
export async function readCheckpoint(where: string, file: string): Promise<Decoded> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const first8 = new Uint8Array(8);
    if (size >= 8) await readFully(where, file, handle, first8, 0);
    const header = new Uint8Array(headerLength(where, file, first8, size));
    await readFully(where, file, handle, header, 8);
    const layout = parseLayout(where, file, header, size);
    const data = new Map<string, Float32Array>();
    for (const t of layout.ordered) {
      const values = new Float32Array(t.length);
      await readFully(where, file, handle, bytesOf(values), layout.dataStart + t.begin);
      data.set(t.key, values);
    }
    return assemble(where, file, layout, data);
  } finally {
    await handle.close();
  }
}
