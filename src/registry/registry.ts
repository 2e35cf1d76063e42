// The registry's services, composed over one metadata store and one storage driver.
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { BlobService } from './blob-service.js';
import { ListingService, type ListingLimits } from './listing-service.js';
import { ManifestService } from './manifest-service.js';
import { UploadService } from './upload-service.js';

export interface RegistryOptions {
  readonly deleteEnabled: boolean;
  readonly readOnly: boolean;
  readonly manifestMaxBytes: number;
  readonly listing: ListingLimits;
}

export class Registry {
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  readonly options: RegistryOptions;
  readonly metadata: MetadataStore;
  readonly storage: StorageDriver;

  constructor(metadata: MetadataStore, storage: StorageDriver, options: RegistryOptions) {
    this.metadata = metadata;
    this.storage = storage;
    this.options = options;
    this.blobs = new BlobService(metadata, storage);
    this.uploads = new UploadService(metadata, storage);
    this.manifests = new ManifestService(metadata);
    this.listings = new ListingService(metadata, options.listing);
  }
}
