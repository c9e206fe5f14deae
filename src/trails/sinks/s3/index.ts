/**
 * The bucket destination over the S3 API (AWS S3, Alibaba OSS, MinIO, Ceph, OpenStack Swift
 * s3api). Files below `multipartThresholdBytes` are one PutObject with Content-MD5; larger ones
 * a multipart upload (lib-storage), aborted on failure so no parts linger.
 *
 * Local S3 servers do not all speak the SDK's default flexible checksums (Swift answers 501 to
 * aws-chunked bodies, s3rver stores the chunk framing), so the client uses
 * `requestChecksumCalculation/responseChecksumValidation: WHEN_REQUIRED` whenever an endpoint
 * is given (`?checksums=when_supported` turns them back on); Content-MD5 keeps integrity.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Options } from '../../destination.js';
import type { ObjectStore } from '../types.js';

export interface S3StoreOptions {
  multipartThresholdBytes: number;
  /** Per-request timeout; a hung server must not hang delivery. */
  requestTimeoutMs?: number;
}

export function s3Client(o: S3Options, requestTimeoutMs = 30_000): S3Client {
  return new S3Client({
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.accessKeyId && o.secretAccessKey
      ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) } }
      : {}),
    requestChecksumCalculation: o.checksums,
    responseChecksumValidation: o.checksums,
    maxAttempts: 1, // the delivery engine retries with its own backoff and reports each failure
    requestHandler: { requestTimeout: requestTimeoutMs, connectionTimeout: Math.min(5000, requestTimeoutMs) },
  });
}

function isNotFound(err: unknown): boolean {
  return err instanceof NoSuchKey || (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404));
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(
    private readonly o: S3Options,
    private readonly opts: S3StoreOptions,
  ) {
    this.client = s3Client(o, opts.requestTimeoutMs);
  }

  async put(key: string, body: Buffer): Promise<void> {
    const contentType = key.endsWith('.gz') ? 'application/gzip' : 'application/octet-stream';
    if (body.length < this.opts.multipartThresholdBytes) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.o.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentMD5: createHash('md5').update(body).digest('base64'),
        }),
      );
      return;
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.o.bucket, Key: key, Body: body, ContentType: contentType },
      partSize: Math.max(5 * 1024 * 1024, Math.ceil(body.length / 1000)),
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      if (!res.Body) return Buffer.alloc(0);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async listAll(prefix: string, delimiter?: string): Promise<{ keys: string[]; dirs: string[] }> {
    const keys: string[] = [];
    const dirs: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const res: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const c of res.Contents ?? []) if (c.Key) keys.push(c.Key);
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix) dirs.push(p.Prefix);
      if (!res.IsTruncated || !res.NextContinuationToken) break;
      token = res.NextContinuationToken;
    }
    return { keys: keys.sort(), dirs: dirs.sort() };
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listAll(prefix)).keys;
  }

  async listDirs(prefix: string): Promise<string[]> {
    return (await this.listAll(prefix.endsWith('/') || prefix === '' ? prefix : `${prefix}/`, '/')).dirs;
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
