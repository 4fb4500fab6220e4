// Original file: proto/kvmclone/agent/v1/disk.proto

export const Compression = {
  COMPRESSION_NONE: 'COMPRESSION_NONE',
  COMPRESSION_ZSTD: 'COMPRESSION_ZSTD',
} as const;

export type Compression =
  | 'COMPRESSION_NONE'
  | 0
  | 'COMPRESSION_ZSTD'
  | 1

export type Compression__Output = typeof Compression[keyof typeof Compression]
