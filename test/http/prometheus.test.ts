// Debian's Prometheus scrapes a running Berth: a PromQL query over its HTTP API returns the request
// counters; the alert rules of docs/monitoring pass `promtool check rules` and evaluate without
// error; every query of the Grafana dashboard is valid PromQL that Prometheus accepts.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pushImage } from '../support/push.js';
import { freePort } from '../support/registry-process.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const ALERTS = fileURLToPath(new URL('../../../docs/monitoring/berth-alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../../docs/monitoring/berth-dashboard.json', import.meta.url));

interface QueryResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('Prometheus scrapes Berth', () => {
  let registry: TestRegistry;
  let prometheus: ChildProcess;
  let api: string;
  const dir = mkdtempSync(join(tmpdir(), 'berth-prometheus-'));

  const query = async (expr: string): Promise<QueryResult> => {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as QueryResult;
  };

  /** Polls until `check` passes (Prometheus scrapes every second), up to 30 s. */
  const eventually = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: not within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  before(async () => {
    registry = await startTestRegistry();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const target = new URL(registry.url).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(ALERTS)}]`,
        'scrape_configs:',
        `  - { job_name: berth, metrics_path: /metrics, static_configs: [{ targets: [${JSON.stringify(target)}] }] }`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await eventually('Prometheus ready', async () => {
      try {
        return (await fetch(`${api}/-/ready`)).status === 200;
      } catch {
        return false;
      }
    });
  });

  after(async () => {
    if (prometheus.exitCode === null) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      await exited;
    }
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('promtool check rules accepts docs/monitoring/berth-alerts.yml', () => {
    const result = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('a PromQL query returns the request counters of GET manifest, by endpoint id and status class', async () => {
    const image = await pushImage(registry.url, 'prom/app', 'v1');
    for (let i = 0; i < 5; i++) await (await fetch(`${registry.url}/v2/prom/app/manifests/v1`, { headers: { Accept: image.manifest.mediaType } })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/prom/app/manifests/nope`)).arrayBuffer();
    await eventually('5 GET manifest 2xx scraped', async () => {
      const result = await query('sum(registry_http_requests_total{job="berth",handler="end-3",method="get",code="2xx"})');
      return result.data.result[0]?.value[1] === '5';
    });
    const byClass = await query('sum by (code) (registry_http_requests_total{handler="end-3",method="get"})');
    assert.equal(byClass.status, 'success');
    const codes: Record<string, string> = Object.fromEntries(byClass.data.result.map((row) => [row.metric.code ?? '', row.value[1]]));
    assert.equal(codes['2xx'], '5');
    assert.equal(codes['4xx'], '1');
    const up = await query('up{job="berth"}');
    assert.equal(up.data.result[0]?.value[1], '1');
  });

  it('every alert rule evaluates without error against the scraped metrics', async () => {
    let groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> }> = [];
    await eventually('rules evaluated', async () => {
      const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: typeof groups } };
      groups = body.data.groups;
      return groups.length > 0 && groups.every((group) => group.rules.every((rule) => !rule.lastEvaluation.startsWith('0001')));
    });
    const rules = groups.flatMap((group) => group.rules);
    assert.ok(rules.length >= 10);
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
    const firing = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: { alertname: string }; state: string }> } };
    assert.deepEqual(firing.data.alerts.filter((alert) => alert.state === 'firing').map((alert) => alert.labels.alertname), [], 'no alert fires on a healthy registry');
  });

  it('every query of the Grafana dashboard is accepted by Prometheus, and the request panels have data', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    assert.ok(dashboard.panels.length >= 10);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const result = await query(target.expr.replaceAll('$__rate_interval', '1m'));
        assert.equal(result.status, 'success', `${panel.title}: ${target.expr}`);
      }
    }
    await eventually('a request rate of GET manifest', async () => {
      const requests = await query('sum by (handler) (rate(registry_http_requests_total[1m]))');
      return requests.data.result.some((row) => row.metric.handler === 'end-3');
    });
  });
});
