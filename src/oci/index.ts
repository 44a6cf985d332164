/** The one model of OCI and Docker image data, shared by the store and the registry client. */
export { sha256, isDigest, hexOf, checkDigest, verifyDigest, shortId, DigestVerifier } from './digest.js';
export { Reference, parseRef, normalizeRef, formatRef, isRef, DOCKER_HUB, type Ref, type ParseOptions } from './reference.js';
export { MediaType, MANIFEST_ACCEPT, layerMediaType, type Compression } from './media-type.js';
export { parseManifest, parseDescriptor, parsePlatform, formatPlatform, selectPlatform, type Descriptor, type ImageIndex, type ImageManifest, type Manifest, type Platform } from './manifest.js';
export { parseConfig, diffIds, type ImageConfig, type HistoryEntry } from './config.js';
export { OciLayoutDir, readLayout, blobName, tagOf, REF_NAME, type LayoutImage } from './layout.js';
