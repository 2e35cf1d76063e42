// The routes table, keyed by the distribution-spec endpoint ids (end-1 … end-13, plus the catalog
// and upload cancel). Paths are matched after percent-decoding; `name` is checked against the
// repository-name grammar after the match, so a bad name is 400 NAME_INVALID rather than 404.
import type { Action } from '../auth/access.js';
import type { RequestContext } from './context.js';
import { getBase } from './handlers/base.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { listCatalog, listReferrers, listTags } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { cancelUpload, completeUpload, getUploadStatus, patchUpload, startUpload } from './handlers/uploads.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Handler = (ctx: RequestContext) => void | Promise<void>;

export interface Operation {
  /** The spec's endpoint id, for logs and metrics. */
  readonly id: string;
  readonly handler: Handler;
  /** What the caller needs on the repository named in the path (or the catalog). */
  readonly actions: readonly Action[];
}

export interface Route {
  readonly pattern: RegExp;
  /** Whether the path carries a repository name (a `name` group). */
  readonly scope: 'none' | 'repository' | 'catalog';
  readonly methods: Readonly<Partial<Record<Method, Operation>>>;
}

const NAME = '(?<name>.+?)';

export const ROUTES: readonly Route[] = [
  {
    pattern: /^\/v2\/?$/,
    scope: 'none',
    methods: {
      GET: { id: 'end-1', handler: getBase, actions: [] },
      HEAD: { id: 'end-1', handler: getBase, actions: [] },
    },
  },
  {
    pattern: /^\/v2\/_catalog$/,
    scope: 'catalog',
    methods: { GET: { id: 'catalog', handler: listCatalog, actions: ['*'] } },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/tags/list$`),
    scope: 'repository',
    methods: { GET: { id: 'end-8', handler: listTags, actions: ['pull'] } },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/manifests/(?<reference>[^/]+)$`),
    scope: 'repository',
    methods: {
      GET: { id: 'end-3', handler: getManifest, actions: ['pull'] },
      HEAD: { id: 'end-3', handler: getManifest, actions: ['pull'] },
      PUT: { id: 'end-7', handler: putManifest, actions: ['pull', 'push'] },
      DELETE: { id: 'end-9', handler: deleteManifest, actions: ['delete'] },
    },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/?$`),
    scope: 'repository',
    methods: { POST: { id: 'end-4', handler: startUpload, actions: ['pull', 'push'] } },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/(?<uploadId>[^/]+)$`),
    scope: 'repository',
    methods: {
      GET: { id: 'end-13', handler: getUploadStatus, actions: ['pull', 'push'] },
      PATCH: { id: 'end-5', handler: patchUpload, actions: ['pull', 'push'] },
      PUT: { id: 'end-6', handler: completeUpload, actions: ['pull', 'push'] },
      DELETE: { id: 'cancel-upload', handler: cancelUpload, actions: ['pull', 'push'] },
    },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/blobs/(?<digest>[^/]+)$`),
    scope: 'repository',
    methods: {
      GET: { id: 'end-2', handler: getBlob, actions: ['pull'] },
      HEAD: { id: 'end-2', handler: getBlob, actions: ['pull'] },
      DELETE: { id: 'end-10', handler: deleteBlob, actions: ['delete'] },
    },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/referrers/(?<reference>[^/]+)$`),
    scope: 'repository',
    methods: { GET: { id: 'end-12', handler: listReferrers, actions: ['pull'] } },
  },
];

export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
