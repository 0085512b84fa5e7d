/**
 * Server → page events that are not point values (alarm summary, horn, system notices). Every page's
 * live stream forwards them as named SSE events, so a page needs one connection for everything.
 */
export type PageEventListener = (event: string, data: unknown) => void;

export class PageEvents {
  private readonly listeners = new Set<PageEventListener>();
  /** Last payload per event name, sent to a page as soon as it connects. */
  private readonly last = new Map<string, unknown>();

  publish(event: string, data: unknown, retain = true): void {
    if (retain) this.last.set(event, data);
    for (const l of this.listeners) {
      try {
        l(event, data);
      } catch (e) {
        console.error("page event listener failed:", e);
      }
    }
  }

  subscribe(listener: PageEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  retained(): [string, unknown][] {
    return [...this.last];
  }
}
