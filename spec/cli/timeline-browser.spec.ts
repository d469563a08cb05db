/**
 * The HTML timeline as a person uses it, in headless Chromium: hover a
 * truncated state pill and read it whole, click it and read it in the side
 * panel, follow the violation panel to the offending delivery (red). The
 * screenshots are kept under .artifacts/timeline/ for a person to look at.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { renderHtml } from '../../cli/timeline-html.ts';
import { requireChromium } from '../browser/chromium.ts';
import { withPage, type Page } from './chromium.ts';
import { realWithDuplicate } from './fixtures.ts';

export const ARTIFACTS = resolve('.artifacts', 'timeline');

interface Box {
  x: number;
  y: number;
}

/** The centre of the first element matching `selector`, scrolled into view. */
const centre = (page: Page, selector: string): Promise<Box | null> =>
  page.evaluate<Box | null>(`(() => { const el = document.querySelector(${JSON.stringify(selector)}); if (!el) return null; el.scrollIntoView({ block: 'center', inline: 'center' }); const r = el.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`);

describe('cli/timeline-html in Chromium', function () {
  this.timeout(120_000);

  it('hover shows a pill whole, a click opens it in the side panel, the offending delivery is red', async function () {
    requireChromium(this); // skips only on a dev machine without /usr/bin/chromium; in CI a missing one fails
    mkdirSync(ARTIFACTS, { recursive: true });
    const { records, violations } = realWithDuplicate();
    const file = join(ARTIFACTS, 'timeline.html');
    writeFileSync(file, renderHtml(records, { violations, seed: 42 }));
    const shot = async (page: Page, name: string) => writeFileSync(join(ARTIFACTS, name), await page.screenshot());

    await withPage(`file://${file}`, 1400, 900, async (page) => {
      // a state pill whose text is cut ('…') on its lane
      const index = await page.evaluate<number>(`(() => { const data = JSON.parse(document.getElementById('wsim-data').textContent); return [...document.querySelectorAll('#svg .it')].findIndex((g) => g.textContent.endsWith('…') && data.items[+g.getAttribute('data-i')][2] === 'st'); })()`);
      expect(index, 'a truncated state pill').to.be.at.least(0);
      const { full, shown, itemIndex } = await page.evaluate<{ full: string; shown: string; itemIndex: number }>(`(() => { const g = document.querySelectorAll('#svg .it')[${index}]; const data = JSON.parse(document.getElementById('wsim-data').textContent); return { full: data.items[+g.getAttribute('data-i')][3], shown: g.textContent, itemIndex: +g.getAttribute('data-i') }; })()`);
      expect(shown.length).to.be.lessThan(full.length);
      await shot(page, '1-overview.png');

      // hover: the whole text in the tooltip
      const at = (await centre(page, `#svg .it[data-i="${itemIndex}"]`))!;
      await page.mouse('mouseMoved', at.x, at.y);
      const tip = await page.evaluate<{ hidden: boolean; text: string }>(`({ hidden: document.getElementById('tip').hidden, text: document.getElementById('tip').textContent })`);
      expect(tip.hidden).to.equal(false);
      expect(tip.text).to.contain(full);
      await shot(page, '2-hover-state-pill.png');

      // click: the side panel with the whole text, its time and lane
      await page.click(at.x, at.y);
      const side = await page.evaluate<{ hidden: boolean; text: string; cls: string }>(`({ hidden: document.getElementById('side').hidden, text: document.getElementById('side').textContent, cls: document.getElementById('side').className })`);
      expect(side.hidden).to.equal(false);
      expect(side.text).to.contain(full);
      expect(side.text).to.match(/time[\d.]+ ms \(simulated\)lane/);
      await shot(page, '3-click-side-panel.png');

      // the violation panel leads to the offending delivery: red, and the side panel says why
      const link = await centre(page, '#offending');
      expect(link, 'the violation panel links the offending delivery').to.not.equal(null);
      await page.click(link!.x, link!.y);
      const offending = await page.evaluate<{ fill: string; stroke: string; side: string; cls: string; panel: string }>(`(() => { const data = JSON.parse(document.getElementById('wsim-data').textContent); const rect = document.querySelector('#svg .it[data-i="' + data.violation.item + '"] rect'); return { fill: rect.getAttribute('fill'), stroke: rect.getAttribute('stroke'), side: document.getElementById('side').textContent, cls: document.getElementById('side').className, panel: document.getElementById('violation').textContent }; })()`);
      expect(offending.stroke).to.equal('#dc2626');
      expect(offending.fill).to.equal('#fee2e2');
      expect(offending.cls).to.equal('bad');
      expect(offending.side).to.contain('exactly_once violated');
      expect(offending.panel).to.contain('exactly_once violated');
      await shot(page, '4-offending-delivery.png');

      // the network lane and the routing arrows are drawn
      const drawn = await page.evaluate<{ network: number; routes: number }>(`(() => { const data = JSON.parse(document.getElementById('wsim-data').textContent); const n = data.lanes.findIndex((l) => l.kind === 'network'); return { network: data.items.filter((i) => i[1] === n).length, routes: document.querySelectorAll('#svg [marker-end="url(#ahr)"]').length }; })()`);
      expect(drawn.network).to.be.greaterThan(10);
      expect(drawn.routes).to.be.greaterThan(20);
    });
  });
});
