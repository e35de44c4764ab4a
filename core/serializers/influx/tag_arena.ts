import type { TagSet } from '../../metric';
import { tagsText } from './escape';
import { noNaN } from './writer';

/**
 * The encoded tags (`,key=value…`) of frozen TagSets, as 8-byte words one set
 * after another in one array, in the order they were first serialized (which
 * is gather order, so consecutive metrics read neighbouring memory). Shared by
 * every serializer: tags have no options. When full it is replaced by a new
 * one (twice the size, up to a limit) and each set is re-encoded on its next
 * use, which also sheds the sets that are gone.
 */
export class TagArena {
  words = new Float64Array(128 * 1024);
  top = 0;
  generation = 0;
  private bytes = new Uint8Array(this.words.buffer);

  add(tags: TagSet): void {
    const encoded = Buffer.from(tagsText(tags), 'utf8');
    const n = (encoded.length + 7) >> 3;
    // Three spare words stay after the last set: readers copy four words at a time.
    if (this.top + n + 3 > this.words.length) this.renew(n + 3);
    this.bytes.fill(0, 8 * this.top, 8 * (this.top + n));
    this.bytes.set(encoded, 8 * this.top);
    tags.lpGeneration = this.generation;
    tags.lpLength = encoded.length;
    // Valid UTF-8 and zero padding never read as NaN (see EncodedText); such a set would be written tag by tag.
    if (!noNaN(this.words, this.top, this.top + n)) {
      tags.lpOffset = -2;
      return;
    }
    tags.lpOffset = this.top;
    this.top += n;
  }

  private renew(atLeast: number): void {
    let size = this.words.length < MAX_ARENA_WORDS ? this.words.length * 2 : this.words.length;
    while (size < 2 * atLeast) size *= 2;
    this.words = new Float64Array(size);
    this.bytes = new Uint8Array(this.words.buffer);
    this.top = 0;
    this.generation++;
  }
}

/** 64 MiB: 300,000 series of 200-byte tags. */
const MAX_ARENA_WORDS = 8 * 1024 * 1024;
export const tagArena = new TagArena();
