import { Readable } from 'node:stream'
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { type BackupManifest, parseManifest } from './backup-manifest.js'
import {
  BackupNotFoundError,
  type BackupStore,
  dumpObjectName,
  MANIFEST_SUFFIX,
  manifestObjectName,
} from './backup-store.js'

export interface S3BackupStoreOptions {
  client: S3Client
  bucket: string
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  prefix: string
  /** KMS key for SSE-KMS; without it objects use the bucket's default encryption. */
  kmsKeyId?: string
}

/**
 * Storage class of the dumps. A dump is written once, read once by its verification and then only for a
 * restore, and kept for the bucket's retention (30 days by default, then 30 more as a noncurrent
 * version): Infrequent Access from the start, since a lifecycle transition to it cannot happen before
 * day 30, i.e. never within a 30-day retention. IA's 30-day minimum storage charge is always met.
 * Manifests stay STANDARD: a few KB each (IA bills at least 128 KB) read by every listing.
 */
export const DUMP_STORAGE_CLASS: StorageClass = 'STANDARD_IA'

/** Backups in S3 (the AWS target): multipart upload of the dump stream, SSE-KMS on every object. */
export class S3BackupStore implements BackupStore {
  readonly location: string
  private readonly client: S3Client
  private readonly bucket: string
  private readonly prefix: string
  private readonly encryption: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string }

  constructor(options: S3BackupStoreOptions) {
    this.client = options.client
    this.bucket = options.bucket
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '')
    this.location = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    this.encryption = options.kmsKeyId
      ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.kmsKeyId }
      : {}
  }

  private key(object: string): string {
    return this.prefix ? `${this.prefix}/${object}` : object
  }

  async putDump(id: string, body: Readable): Promise<{ object: string }> {
    const object = dumpObjectName(id)
    // lib-storage splits a stream of unknown length into parts, so the dump never sits on disk.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.key(object),
        Body: body,
        ContentType: 'application/octet-stream',
        StorageClass: DUMP_STORAGE_CLASS,
        ...this.encryption,
      },
      queueSize: 2,
      leavePartsOnError: false,
    })
    await upload.done()
    return { object }
  }

  async getDump(id: string): Promise<Readable> {
    const body = await this.getObject(id, dumpObjectName(id))
    return body instanceof Readable ? body : Readable.fromWeb(body as never)
  }

  async list(): Promise<string[]> {
    const ids: string[] = []
    const pages = paginateListObjectsV2(
      { client: this.client },
      { Bucket: this.bucket, Prefix: this.prefix ? `${this.prefix}/` : undefined },
    )
    for await (const page of pages) {
      for (const item of page.Contents ?? []) {
        const name = item.Key?.slice(this.prefix ? this.prefix.length + 1 : 0) ?? ''
        if (!name.includes('/') && name.endsWith(MANIFEST_SUFFIX))
          ids.push(name.slice(0, -MANIFEST_SUFFIX.length))
      }
    }
    return ids.sort()
  }

  async readManifest(id: string): Promise<BackupManifest> {
    const body = await this.getObject(id, manifestObjectName(id))
    const text = await (body as { transformToString(): Promise<string> }).transformToString()
    return parseManifest(text, `${this.location}/${manifestObjectName(id)}`)
  }

  async writeManifest(manifest: BackupManifest): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(manifestObjectName(manifest.id)),
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
        ...this.encryption,
      }),
    )
  }

  private async getObject(id: string, object: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(object) }))
      if (!out.Body) throw new BackupNotFoundError(id, this.location)
      return out.Body
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey')
        throw new BackupNotFoundError(id, this.location)
      throw error
    }
  }
}
