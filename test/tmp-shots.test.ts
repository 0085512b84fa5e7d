import { it } from "vitest";
import { artifact, launchChromium, newPage, SIZES, startDemo, until, waitLive } from "./helpers/browser.ts";
it("shots", { timeout: 90_000 }, async () => {
  const [demo, browser] = await Promise.all([startDemo({ pollMs: 250 }), launchChromium()]);
  await until("poll", () => demo.busbar.live.value(demo.busbar.registry.byId.get("5B1.p_total")!).quality === "good", 15000);
  for (const lang of ["en"] as ("fr" | "en")[])
    for (const size of ["control", "phone"] as const) {
      const { page, context } = await newPage(browser, SIZES[size], { lang });
      await page.goto(demo.busbar.url);
      await waitLive(page);
      await Bun.sleep(800);
      await page.screenshot({ path: artifact(`tmp-oneline-${lang}-${size}.png`), fullPage: size === "phone" });
      if (size === "phone") await page.screenshot({ path: artifact(`tmp-top-${lang}-phone.png`), clip: { x: 0, y: 440, width: 390, height: 300 }, fullPage: true });
      await context.close();
    }
  if (process.env.SKIP_EMERG) { await browser.close(); await demo.stop(); return; }
  demo.sim.setUtility(false);
  await Bun.sleep(12000);
  for (const lang of ["fr", "en"] as const) {
    const { page, context } = await newPage(browser, SIZES.phone, { lang });
    await page.goto(demo.busbar.url);
    await waitLive(page);
    await Bun.sleep(800);
    await page.screenshot({ path: artifact(`tmp-oneline-emerg-${lang}-phone.png`), fullPage: true });
    await page.screenshot({ path: artifact(`tmp-ats-${lang}-phone.png`), clip: { x: 0, y: 360, width: 390, height: 560 }, fullPage: true });
    await context.close();
  }
  const { page, context } = await newPage(browser, SIZES.phone, { lang: "fr" });
  await page.goto(demo.busbar.url + "points");
  await waitLive(page);
  await page.screenshot({ path: artifact(`tmp-points-phone.png`) });
  await context.close();
  await browser.close();
  await demo.stop();
});
