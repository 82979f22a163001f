// Test hosts: network namespaces made for a test, each joined to one bridge
// on this machine, so that each freshen node of a fleet test has a network
// stack — and an address — of its own, and reaches what the test runs on the
// bridge's address (upstream, SMTP, Postgres). Needs root and iproute2's `ip
// netns`; everything is removed again, processes inside first.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export interface TestHost {
  name: string;
  /** This host's address on the bridge. */
  address: string;
  /** Runs a command in this host's namespace: prefix it with these words. */
  wrap: string[];
  /** SIGKILL every process in the namespace (a lost machine). */
  killAll(): void;
}

export interface TestNetwork {
  /** The bridge's address: where the test's own servers listen for the hosts. */
  gateway: string;
  /** The subnet, for a server's access rules (Postgres's pg_hba). */
  cidr: string;
  hosts: TestHost[];
  destroy(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this machine lets the test make namespaces (root, iproute2). */
export function canMakeHosts(): boolean {
  try {
    const name = `frprobe${process.pid % 100_000}`;
    ip('netns', 'add', name);
    ip('netns', 'del', name);
    return true;
  } catch {
    return false;
  }
}

export function createTestNetwork(count: number): TestNetwork {
  // A subnet unlikely to be in use here: 10.213-250.x.0/24 (this machine's own test hosts only).
  const net = `10.${randomInt(213, 250)}.${randomInt(1, 250)}`;
  const tag = `fr${process.pid % 10_000}${randomInt(0, 100)}`;
  const bridge = `${tag}br`;
  const hosts: TestHost[] = [];
  const made: string[] = [];
  const destroy = () => {
    for (const h of hosts) h.killAll();
    for (const name of made) {
      try {
        ip('netns', 'del', name);
      } catch {
        // gone already
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // gone already
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${net}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 0; i < count; i++) {
      const name = `${tag}n${i}`;
      const address = `${net}.${i + 2}`;
      ip('netns', 'add', name);
      made.push(name);
      ip('link', 'add', `${name}h`, 'type', 'veth', 'peer', 'name', `${name}c`);
      ip('link', 'set', `${name}h`, 'master', bridge);
      ip('link', 'set', `${name}h`, 'up');
      ip('link', 'set', `${name}c`, 'netns', name);
      ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', `${name}c`);
      ip('-n', name, 'link', 'set', `${name}c`, 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
      hosts.push({
        name,
        address,
        wrap: ['ip', 'netns', 'exec', name],
        killAll() {
          let pids: string[] = [];
          try {
            pids = ip('netns', 'pids', name).split('\n').filter((p) => p.trim() !== '');
          } catch {
            return;
          }
          for (const pid of pids) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // ended meanwhile
            }
          }
        },
      });
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { gateway: `${net}.1`, cidr: `${net}.0/24`, hosts, destroy };
}
