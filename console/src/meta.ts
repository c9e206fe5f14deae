/**
 * What every page may need once signed in: the caller, the cluster list (names, regions) and
 * the suggestion catalog. Loaded once per sign-in; pages work (with fewer suggestions) when a
 * part failed to load.
 */
import type { ClusterList, ConsoleCatalog, Session } from './api';

export interface Meta {
  session: Session;
  clusters?: ClusterList;
  catalog?: ConsoleCatalog;
}

