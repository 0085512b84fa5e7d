import { AlarmEngine } from "../../alarms/engine.ts";
import { AuthService } from "../../auth/service.ts";
import type { Lang } from "../../i18n/index.ts";
import type { Journal } from "../../journal/journal.ts";
import type { AppContext } from "../context.ts";

/**
 * The journal, authentication and alarm engine a running Busbar shares with its routes. The runtime
 * creates and starts them (runtime.ts) and attaches them to the AppContext; an app built without
 * them (a test calling createApp directly) gets fresh, unstarted ones over the same database, so the
 * security middleware is never missing.
 */
export interface SecurityServices {
  journal: Journal;
  auth: AuthService;
  alarms: AlarmEngine;
  /** The site's language: journal messages are written in it. */
  lang: Lang;
}

const attached = new WeakMap<AppContext, SecurityServices>();

export function attachServices(ctx: AppContext, services: SecurityServices): void {
  attached.set(ctx, services);
}

export function servicesOf(ctx: AppContext): SecurityServices {
  let s = attached.get(ctx);
  if (!s) {
    const lang = ctx.site.site.language;
    const journal = ctx.db.journal;
    s = {
      journal,
      auth: new AuthService(ctx.db, journal, ctx.site.security, [], lang),
      alarms: new AlarmEngine({
        site: ctx.site,
        registry: ctx.live.registry,
        table: ctx.live.table,
        db: ctx.db,
        journal,
        publish: (summary) => ctx.pageEvents.publish("alarms", summary),
      }),
      lang,
    };
    attached.set(ctx, s);
  }
  return s;
}
