/**
 * CLI: `flinktrail regions list|storage|set-storage` through a running server's API — the regions
 * it knows (DescribeRegions), and the region global events are recorded in
 * (Get/UpdateGlobalEventsStorageRegion; changing it takes an admin of the management account).
 * Human output by default, `--output json` for scripts.
 */
import { Option, type Command } from 'commander';
import { client, withClient, type ClientFlags } from './client.js';
import { table } from './table.js';

const output = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
const STORAGE = '/api/v1/regions/global-events-storage';

function print(o: { output: string }, json: unknown, human: () => string): void {
  process.stdout.write(o.output === 'json' ? `${JSON.stringify(json)}\n` : `${human()}\n`);
}

export function addRegionCommands(cli: Command): void {
  const regions = cli.command('regions').description('Regions and the global events storage region');

  withClient(regions.command('list').description('The regions this FlinkTrail knows (DescribeRegions)').addOption(output())).action(async (o: ClientFlags & { output: string }) => {
    const r = (await client(o).get('/api/v1/regions')) as { Regions: string[]; HomeRegion: string; GlobalEventsStorageRegion: string };
    print(o, r, () =>
      table(
        ['Region', 'Home', 'GlobalEvents'],
        r.Regions.map((x) => [x, x === r.HomeRegion ? 'yes' : '', x === r.GlobalEventsStorageRegion ? 'stored here' : '']),
      ),
    );
  });

  withClient(regions.command('storage').description('Where global events are recorded (GetGlobalEventsStorageRegion)').addOption(output())).action(async (o: ClientFlags & { output: string }) => {
    const r = (await client(o).get(STORAGE)) as { StorageRegion: string };
    print(o, r, () => r.StorageRegion);
  });

  withClient(
    regions
      .command('set-storage <region>')
      .description('Record global events in this region from now on (UpdateGlobalEventsStorageRegion; admins of the management account)')
      .addOption(output()),
  ).action(async (region: string, o: ClientFlags & { output: string }) => {
    const r = (await client(o).put(STORAGE, { StorageRegion: region })) as { StorageRegion: string };
    print(o, r, () => `Global events are recorded in ${r.StorageRegion} from now on (each instance within 5 s).`);
  });
}
