// Reading cache tags from an upstream's answer: Surrogate-Key (space-separated)
// and Cache-Tag (comma-separated), each tag checked, deduplicated, bounded.
import { expect } from 'chai';
import { MAX_TAGS_PER_ENTRY, parseTags } from '../shared/tags.js';

describe('cache tags of an answer', () => {
  it('reads Surrogate-Key by spaces and Cache-Tag by commas, sorted and once each', () => {
    expect(parseTags('shoes  red\tsale', 'blue, shoes,sale')).to.deep.equal(['blue', 'red', 'sale', 'shoes']);
  });

  it('says nothing was given when neither header came, and none when they were empty', () => {
    expect(parseTags(null, null)).to.equal(null);
    expect(parseTags('', null)).to.deep.equal([]);
  });

  it('reads repeated Surrogate-Key lines, which arrive joined by ", "', () => {
    expect(parseTags('a b, c', null)).to.deep.equal(['a', 'b', 'c']);
  });

  it('leaves out tags that are too long or hold what no tag may, and keeps at most 64', () => {
    // A Cache-Tag holds no space; no tag holds a control or non-ASCII character.
    expect(parseTags(`ok ${'x'.repeat(129)} ${'y'.repeat(128)} caf\u00e9`, 'not one, \u0000bad')).to.deep.equal(['ok', 'y'.repeat(128)]);
    const many = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(3, '0')}`).join(' ');
    expect(parseTags(many, null)).to.have.length(MAX_TAGS_PER_ENTRY);
  });
});
