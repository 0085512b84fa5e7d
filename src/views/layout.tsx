import type { Child } from "hono/jsx";

/** The page shell every screen shares: grey ISA-101 background, no colour unless something is abnormal. */
export function Layout(props: { title: string; siteName: string; children: Child; scripts?: string[] }) {
  return (
    <html lang="fr">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} — ${props.siteName} — Busbar`}</title>
        <link rel="stylesheet" href="/assets/busbar.css" />
        <script src="/assets/htmx.min.js" defer></script>
        {(props.scripts ?? []).map((s) => (
          <script src={s} defer></script>
        ))}
      </head>
      <body>
        <header class="topbar">
          <span class="brand">Busbar</span>
          <span class="site">{props.siteName}</span>
          <nav>
            <a href="/points">Points</a>
            <a href="/api/buses">Bus</a>
          </nav>
          <span id="link-state" class="link-state" data-state="connecting">…</span>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
