/** Where the store lives unless --root or $LAYERFS_ROOT says otherwise (a module of its own: every command start reads it). */
export const DEFAULT_ROOT = '/var/lib/layerfs';
