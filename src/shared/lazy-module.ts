/**
 * A module loaded when first needed, once. `import()` of a module already loaded still
 * goes through the module loader's resolution (about a millisecond under load); a step
 * that imports its handler lazily pays that on every run, which a long-lived process
 * (`tbuild watch`) repeats on every rebuild. A failed load is tried again next time.
 */
export function lazyModule<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading === undefined) {
      loading = load();
      loading.catch(() => (loading = undefined));
    }
    return loading;
  };
}
