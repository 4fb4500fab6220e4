// Original file: proto/kvmclone/agent/v1/disk.proto

export const ExtentKind = {
  EXTENT_KIND_UNSPECIFIED: 'EXTENT_KIND_UNSPECIFIED',
  EXTENT_KIND_DATA: 'EXTENT_KIND_DATA',
  /**
   * Unallocated in the file; reads as zeros.
   */
  EXTENT_KIND_HOLE: 'EXTENT_KIND_HOLE',
  /**
   * Allocated but all zero (found by reading, or reported by qemu-img).
   */
  EXTENT_KIND_ZERO: 'EXTENT_KIND_ZERO',
} as const;

export type ExtentKind =
  | 'EXTENT_KIND_UNSPECIFIED'
  | 0
  | 'EXTENT_KIND_DATA'
  | 1
  /**
   * Unallocated in the file; reads as zeros.
   */
  | 'EXTENT_KIND_HOLE'
  | 2
  /**
   * Allocated but all zero (found by reading, or reported by qemu-img).
   */
  | 'EXTENT_KIND_ZERO'
  | 3

export type ExtentKind__Output = typeof ExtentKind[keyof typeof ExtentKind]
