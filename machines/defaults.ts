/**
 * Settings and empty records an actor shares instead of copying: an idle
 * session's memory is mostly per-actor copies of the same data.
 *
 * Every actor of a run gets the same override object (the world's client
 * config, the hub's session config and limits), so the settings merged with
 * their defaults are made once per (defaults, override) pair and shared,
 * frozen, by every actor that gets them. Contexts are immutable: a shared
 * frozen record is replaced, never written, when something changes.
 */

const merged = new WeakMap<object, WeakMap<object, object>>();

/**
 * `{ ...defaults, ...override }`, made once per override object and frozen
 * (the defaults themselves when there is none). An override is read once: it
 * must not be changed after it was handed to an actor.
 */
export function withDefaults<T extends object>(defaults: T, override: Readonly<Partial<NoInfer<T>>> | undefined): T {
  if (override === undefined || Object.keys(override).length === 0) return defaults;
  let byOverride = merged.get(defaults);
  if (!byOverride) merged.set(defaults, (byOverride = new WeakMap()));
  let settings = byOverride.get(override) as T | undefined;
  if (!settings) byOverride.set(override, (settings = Object.freeze({ ...defaults, ...override }) as T));
  return settings;
}

/** A frozen empty record, for a context field that starts empty (one shared object instead of one per actor). */
export const EMPTY_RECORD: Readonly<Record<string, never>> = Object.freeze({});

/** A frozen empty list (see EMPTY_RECORD). */
export const EMPTY_LIST: readonly never[] = Object.freeze([]);
