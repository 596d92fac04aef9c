/** A small Prometheus text-format registry: request counts and latency per route, plus gauges read at scrape time. */
export class Metrics {
  private readonly requests = new Map<string, { count: number; seconds: number }>();
  private readonly gauges: { name: string; help: string; read: () => Promise<number> }[] = [];

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${route.replaceAll('"', '')}",status="${status}"`;
    const entry = this.requests.get(key) ?? { count: 0, seconds: 0 };
    entry.count += 1;
    entry.seconds += seconds;
    this.requests.set(key, entry);
  }

  gauge(name: string, help: string, read: () => Promise<number>): void {
    this.gauges.push({ name, help, read });
  }

  async render(): Promise<string> {
    const lines = [
      '# HELP boxoffice_http_requests_total HTTP requests by method, matched route and status.',
      '# TYPE boxoffice_http_requests_total counter',
    ];
    for (const [labels, { count }] of this.requests) lines.push(`boxoffice_http_requests_total{${labels}} ${count}`);
    lines.push(
      '# HELP boxoffice_http_request_duration_seconds_sum Time spent answering, by method, route and status.',
      '# TYPE boxoffice_http_request_duration_seconds_sum counter',
    );
    for (const [labels, { seconds }] of this.requests)
      lines.push(`boxoffice_http_request_duration_seconds_sum{${labels}} ${seconds.toFixed(6)}`);
    for (const gauge of this.gauges) {
      lines.push(
        `# HELP ${gauge.name} ${gauge.help}`,
        `# TYPE ${gauge.name} gauge`,
        `${gauge.name} ${await gauge.read()}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}
