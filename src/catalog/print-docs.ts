/**
 * Prints the Flink event reference generated from the catalog:
 *
 *   node --import tsx src/catalog/print-docs.ts > docs/reference/flink-events.md
 *
 * flink-rest.test.ts fails when the committed file differs, so run this after changing the table.
 */
import { renderFlinkEventsDoc } from './docs.js';

process.stdout.write(renderFlinkEventsDoc());
