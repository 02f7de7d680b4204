/**
 * The requests in flight on one worker, by request id, with the time each was handed over:
 * a slot table indexed by the id's low bits.
 *
 * A Map did this job, but one set and one delete per request make V8 rebuild its hash
 * table every few requests, and each discarded table keeps a pointer to its successor.
 * Once a full GC has promoted one table to old space, every later table and the request
 * objects it holds survive the minor collections too: the master spent ~7-9 µs per hello
 * request in GC. Slots are reused in place and allocate nothing per request.
 *
 * Ids keep counting up to 2^32 as before (the caller picks them with `isFree`), so a late
 * frame for a request that already failed never finds a newer request under its id.
 */
export class InflightTable<T> {
  private ids: number[] = [];
  private items: Array<T | undefined> = [];
  private starts: number[] = [];
  private mask = 0;
  /** Requests in the table. */
  size = 0;

  constructor(slots = 16) {
    this.resize(slots);
  }

  /** Whether `id` may be added now (its slot is empty); grows the table when half full. */
  isFree(id: number): boolean {
    if (this.size * 2 >= this.ids.length) this.resize(this.ids.length * 2);
    return this.items[id & this.mask] === undefined;
  }

  /** Add `item` under `id`; `isFree(id)` must have said yes. */
  add(id: number, item: T, startedAt: number): void {
    const i = id & this.mask;
    this.ids[i] = id;
    this.items[i] = item;
    this.starts[i] = startedAt;
    this.size++;
  }

  get(id: number): T | undefined {
    const i = id & this.mask;
    return this.ids[i] === id ? this.items[i] : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Remove `id`; returns its item, undefined when it was not in the table. */
  take(id: number): T | undefined {
    const i = id & this.mask;
    const item = this.items[i];
    if (item === undefined || this.ids[i] !== id) return undefined;
    this.items[i] = undefined;
    this.size--;
    return item;
  }

  /** Every request in flight with the time it was handed over. */
  forEach(fn: (id: number, item: T, startedAt: number) => void): void {
    const { ids, items, starts } = this;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined) fn(ids[i]!, item, starts[i]!);
    }
  }

  /** Empty the table; returns what was in it. */
  clear(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined) out.push(item);
      this.items[i] = undefined;
    }
    this.size = 0;
    return out;
  }

  private resize(slots: number): void {
    const { ids, items, starts } = this;
    this.ids = new Array<number>(slots).fill(0);
    this.items = new Array<T | undefined>(slots).fill(undefined);
    this.starts = new Array<number>(slots).fill(0);
    this.mask = slots - 1;
    this.size = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      // Growing only adds mask bits: entries in distinct slots stay in distinct slots.
      if (item !== undefined) this.add(ids[i]!, item, starts[i]!);
    }
  }
}
