import { createHash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/** Passes bytes through unchanged while computing their sha256 and size. */
export class ChecksumStream extends Transform {
  private readonly hash = createHash('sha256')
  bytes = 0

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    callback(null, chunk)
  }

  /** Hex digest; call once the stream has ended. */
  digest(): string {
    return this.hash.digest('hex')
  }
}
