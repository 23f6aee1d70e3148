import path from 'node:path';

/**
 * The conformance vectors vendored into the repository (see each folder's PROVENANCE.md): tests
 * read them from here and nothing outside the repository.
 */
export const VECTORS_DIR = path.join(import.meta.dirname, '../fixtures/vectors');
