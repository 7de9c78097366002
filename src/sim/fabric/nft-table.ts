// One named nftables table, replaced atomically as a whole.
import { nft, run } from './exec.ts';

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

export class NftTable {
  constructor(readonly netns: string | undefined, readonly family: NftFamily, readonly name: string) {}

  /** Create or replace the table with `body` (chains and rules) in one transaction. */
  async replace(body: string): Promise<void> {
    await nft(this.replaceScript(body), this.netns);
  }

  /** The nft script behind replace(), to fold into a bigger job. */
  replaceScript(body: string): string {
    const t = `${this.family} ${this.name}`;
    return `add table ${t}\ndelete table ${t}\ntable ${t} {\n${body}\n}\n`;
  }

  /** Run extra nft commands (e.g. `flush chain inet kubevirt postrouting`). */
  async apply(script: string): Promise<void> {
    await nft(script, this.netns);
  }

  async delete(): Promise<void> {
    const t = `${this.family} ${this.name}`;
    await nft(`add table ${t}\ndelete table ${t}\n`, this.netns);
  }

  async list(): Promise<string> {
    const r = await run(['nft', 'list', 'table', this.family, this.name], { netns: this.netns });
    return r.stdout;
  }
}
