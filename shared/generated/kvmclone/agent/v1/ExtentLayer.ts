// Original file: proto/kvmclone/agent/v1/disk.proto

export const ExtentLayer = {
  /**
   * Same as EXTENT_LAYER_FILE.
   */
  EXTENT_LAYER_UNSPECIFIED: 'EXTENT_LAYER_UNSPECIFIED',
  /**
   * The image file as stored: SEEK_DATA / SEEK_HOLE.
   */
  EXTENT_LAYER_FILE: 'EXTENT_LAYER_FILE',
  /**
   * What the guest sees, through the image format (qemu-img map).
   */
  EXTENT_LAYER_GUEST: 'EXTENT_LAYER_GUEST',
} as const;

export type ExtentLayer =
  /**
   * Same as EXTENT_LAYER_FILE.
   */
  | 'EXTENT_LAYER_UNSPECIFIED'
  | 0
  /**
   * The image file as stored: SEEK_DATA / SEEK_HOLE.
   */
  | 'EXTENT_LAYER_FILE'
  | 1
  /**
   * What the guest sees, through the image format (qemu-img map).
   */
  | 'EXTENT_LAYER_GUEST'
  | 2

export type ExtentLayer__Output = typeof ExtentLayer[keyof typeof ExtentLayer]
