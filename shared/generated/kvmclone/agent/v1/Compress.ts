// Original file: proto/kvmclone/agent/v1/disk.proto

export const Compress = {
  /**
   * Every chunk plain.
   */
  COMPRESS_OFF: 'COMPRESS_OFF',
  /**
   * zstd (level 1) for every chunk that shrinks.
   */
  COMPRESS_ZSTD: 'COMPRESS_ZSTD',
  /**
   * zstd where a 64 KiB sample of the chunk shrinks by a tenth; random data
   * is sampled only (about 6 % of a chunk's bytes are tried), not compressed.
   */
  COMPRESS_AUTO: 'COMPRESS_AUTO',
} as const;

export type Compress =
  /**
   * Every chunk plain.
   */
  | 'COMPRESS_OFF'
  | 0
  /**
   * zstd (level 1) for every chunk that shrinks.
   */
  | 'COMPRESS_ZSTD'
  | 1
  /**
   * zstd where a 64 KiB sample of the chunk shrinks by a tenth; random data
   * is sampled only (about 6 % of a chunk's bytes are tried), not compressed.
   */
  | 'COMPRESS_AUTO'
  | 2

export type Compress__Output = typeof Compress[keyof typeof Compress]
