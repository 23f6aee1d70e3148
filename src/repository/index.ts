export {
  Repository,
  MAX_BINS,
  type AddTargetsOptions,
  type AddedTarget,
  type DelegationSpec,
  type InitOptions,
  type RoleKeys,
  type RoleSigner,
  type SignResult,
  type TargetInput,
} from './repository.js';
export { type RebinResult } from './rebin.js';
export { RepoLayout, checkRoleName, checkDelegatedRoleName, checkTargetPath, publishedTargetName, publishedMetadataName } from './layout.js';
export { DEFAULT_EXPIRY, type ExpiryPeriods, type RepoSettings } from './settings.js';
export { parseDuration, formatDuration, formatRelative } from './durations.js';
export { hashFile, hashFiles, type FileDigest } from './targets-hashing.js';
export { ExternalSigner, type ExternalSignerOptions } from './external-signer.js';
export { readKeyFile, readPublicKey, readSigner, publicKeyFileText, type KeyFile } from './key-files.js';
export { describeExpiry, type Problem, type ProblemKind, type RepositoryStatus, type RoleStatus } from './status.js';
export { type SignatureStatus, type KeySignatures } from './signatures.js';
export { type FileProgress, type PublishOptions, type PublishResult } from './publish.js';
export { type TreeNode } from './role-store.js';
