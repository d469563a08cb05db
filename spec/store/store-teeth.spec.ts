import { expect } from 'chai';
import { brokenStores } from './broken-stores.ts';
import { contract } from './store-contract.ts';

describe('store contract: teeth (each check catches the store broken its way)', () => {
  for (const broken of brokenStores) {
    const check = contract[broken.caughtBy]!;
    it(`"${broken.name}" is caught by: ${check.title}`, async () => {
      let caught: unknown;
      try {
        await check.run(broken.make);
      } catch (error) {
        caught = error;
      }
      expect(caught, 'the broken store passed the check').to.be.instanceOf(Error);
      console.log(`      caught: ${(caught as Error).message.split('\n')[0]}`);
    });
  }
});
