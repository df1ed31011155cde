// What every browser driver here shares: its environment, Chromium launched as the tests need
// it, and a login to the web console.
import { chromium } from "playwright-core";

/** The environment variable `k` (or `d`); throws if neither is set. */
export const env = (k, d) => process.env[k] ?? d ?? (() => { throw new Error(`${k} not set`); })();

/** Headless Chromium ($CHROMIUM, default /usr/bin/chromium) for the test's self-signed certificate (vagt cert dev). */
export function launch() {
  return chromium.launch({
    executablePath: env("CHROMIUM", "/usr/bin/chromium"),
    args: ["--no-sandbox", "--ignore-certificate-errors"],
  });
}

/**
 * Opens the console at `url` on `page`, picks the language with the header's switch (the
 * console starts in Danish; these scripts check English texts unless they ask for "da") and
 * submits the login form.
 */
export async function login(page, url, user, password, lang = "en") {
  await page.goto(url);
  await page.selectOption("#lang", lang);
  await page.fill("#user", user);
  await page.fill("#password", password);
  await page.click("#login button[type=submit]");
}
