/** The machine a run is measured on, and what differs between two of them. */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { availableIsas } from '../bridge/backend.js';
import type { Fingerprint } from './types.js';

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The CPU's model name: /proc/cpuinfo's (os.cpus() shortens some), else os.cpus()'s. */
function cpuName(): string {
  const info = readText('/proc/cpuinfo');
  const name = info ? /model name\s*:\s*(.*)/.exec(info)?.[1] : undefined;
  return name ?? os.cpus()[0]?.model ?? os.arch();
}

/** Cache sizes of the first CPU by level and type ("L1d", "L1i", "L2", "L3"), from Linux's sysfs. */
function cacheSizes(): Record<string, string> {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  const caches: Record<string, string> = {};
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => e.startsWith('index')).sort();
  } catch {
    return caches; // not Linux, or no sysfs: the other fields still tell machines apart
  }
  for (const entry of entries) {
    const level = readText(path.join(dir, entry, 'level')), type = readText(path.join(dir, entry, 'type'));
    const size = readText(path.join(dir, entry, 'size'));
    if (!level || !type || !size) continue;
    const suffix = type === 'Data' ? 'd' : type === 'Instruction' ? 'i' : '';
    caches[`L${level}${suffix}`] = size;
  }
  return caches;
}

/** This machine's fingerprint. */
export function fingerprint(): Fingerprint {
  return {
    cpu: cpuName(),
    cores: os.availableParallelism(),
    isa: availableIsas(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    caches: cacheSizes(),
  };
}

/** What differs between two fingerprints, one line each ("cores: 2 → 8"); empty when they match. */
export function fingerprintDifferences(before: Fingerprint, after: Fingerprint): string[] {
  const show = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : JSON.stringify(value));
  const differences: string[] = [];
  for (const field of ['cpu', 'cores', 'isa', 'node', 'platform', 'caches'] as const) {
    const a = show(before[field]), b = show(after[field]);
    if (a !== b) differences.push(`${field}: ${a} → ${b}`);
  }
  return differences;
}
