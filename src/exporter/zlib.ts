/**
 * node:zlib, loaded by the first (de)compression: a build that compresses nothing (most do
 * not, ADR 12) does not pay its ~2 ms of start-up. A static import would, in the build's
 * one-file bundle (ADR 19), which hoists every import to its top.
 */
import type * as Zlib from 'node:zlib';

export const zlib = (): typeof Zlib => process.getBuiltinModule('node:zlib');

export type { Zlib };
