/**
 * Query phrasings for mini-M3T's turns, several per facet, mixing questions and statements as M3T's
 * generation prompt asks (docs/method.md §7). They follow M3T's other rules too: no self-reference
 * ("image", "photo", "picture"), nothing invented beyond the source fields. `{lang}` is an English
 * language name ("German"), `{where}` a region phrase ("upper half"). Keys are facet names; a facet with a
 * locale (`name@de`) uses the template list of its base facet with `@L`.
 */

export const EMOJI_TEMPLATES: Readonly<Record<string, readonly string[]>> = {
  group: [
    'Which broad emoji category does this belong to?',
    'Name the top-level category of this emoji.',
    'Classify this emoji into one of the main emoji groups.',
    'What general category would this emoji be filed under?',
    'State the emoji group this symbol is part of.',
  ],
  'group@L': [
    'Which broad emoji category is this? Answer in {lang}.',
    'Give the top-level emoji group in {lang}.',
    'In {lang}, name the main category of this emoji.',
  ],
  subgroup: [
    'Which emoji subcategory does this fall into?',
    'Give the fine-grained emoji subgroup of this symbol.',
    'Classify this emoji by its subgroup.',
    'What narrow category is this emoji listed in?',
    'Name the subgroup this emoji sits in.',
  ],
  'subgroup@L': [
    'Which emoji subcategory is this? Answer in {lang}.',
    'Give the fine-grained emoji subgroup in {lang}.',
    'In {lang}, name the narrow category of this emoji.',
  ],
  name: [
    'What is this emoji called?',
    'Give the official name of this emoji.',
    'Name the emoji shown.',
    'What is the standard Unicode name for this symbol?',
    'Identify this emoji by its name.',
  ],
  'name@L': [
    'What is this emoji called in {lang}?',
    'Give the {lang} name of this emoji.',
    'Name this emoji in {lang}.',
    'How would a {lang} speaker name this symbol?',
  ],
  keywords: [
    'List a few keywords for this emoji.',
    'Which search terms would find this emoji?',
    'Give tags that describe this symbol.',
    'What words are associated with this emoji in emoji pickers?',
  ],
  'keywords@L': [
    'List {lang} keywords for this emoji.',
    'Which {lang} search terms would find this emoji?',
    'Give {lang} tags for this symbol.',
  ],
  skin: [
    'What skin tone is shown?',
    'Which skin tone modifier is applied here?',
    'Describe the skin tone of the figure.',
    'State the skin tone used in this emoji.',
  ],
  gender: [
    'What gender does the figure have?',
    'Which gender is depicted?',
    'State the gender of the person shown.',
  ],
  hair: [
    'What hairstyle does the figure have?',
    'Describe the hair of the person shown.',
    'Which hair variation is depicted?',
  ],
  colour: [
    'What colour dominates the {where}?',
    'Which colour fills most of the {where}?',
    'Name the main colour of the {where}.',
    'The {where} is mostly which colour?',
  ],
  colours: [
    'Which colours make up most of this emoji?',
    'List the main colours used.',
    'What are the dominant colours?',
  ],
  associations: [
    'What ideas or feelings might someone express with this emoji?',
    'Suggest words people associate with this emoji.',
    'In a chat, what could this emoji stand for?',
    'Imagine sending this emoji: which concepts would it convey?',
  ],
  shortcode: [
    'What shortcode would you type to insert this emoji?',
    'Give the chat shortcode for this emoji.',
    'Which colon code produces this emoji in chat apps?',
  ],
  version: [
    'In which Emoji version did this first appear?',
    'When was this emoji added to the standard? Give the Emoji version.',
    'State the Emoji release that introduced this symbol.',
  ],
  description: [
    'Describe this emoji in detail.',
    'Give a complete description of what is shown.',
    'Find a detailed caption for this emoji.',
    'Write a dense description covering its name, category, colours and meaning.',
  ],
};

export const FLAG_TEMPLATES: Readonly<Record<string, readonly string[]>> = {
  continent: [
    'Which continent or world region is this flag from?',
    'Name the region of the world this flag belongs to.',
    'Classify this flag by world region.',
    'Where in the world is this flag used? Give the region.',
  ],
  subregion: [
    'Which subregion of the world uses this flag?',
    'Give the geographic subregion of the country with this flag.',
    'Classify this flag by subregion.',
  ],
  country: [
    'Which country does this flag belong to?',
    'Name the country with this flag.',
    'Whose national flag is this?',
    'Identify the country represented.',
  ],
  'country@L': [
    'Which country is this flag from? Answer in {lang}.',
    'Give the {lang} name of the country with this flag.',
    'Name this flag\'s country in {lang}.',
  ],
  official: [
    'What is the official name of the country with this flag?',
    'Give the full formal name of this flag\'s country.',
    'State the official country name for this flag.',
  ],
  colour: [
    'What colour dominates the {where} of this flag?',
    'Which colour fills most of the {where}?',
    'Name the main colour of the {where} of the flag.',
  ],
  colours: [
    'Which colours appear on this flag?',
    'List the main colours of the flag.',
    'What are the dominant colours here?',
  ],
  capital: [
    'What is the capital of the country with this flag?',
    'Name the capital city of this flag\'s country.',
    'Which city is the seat of government where this flag flies?',
  ],
  currency: [
    'Which currency would you pay with in this flag\'s country?',
    'Name the currency used where this flag flies.',
    'What money is used in the country of this flag?',
  ],
  languages: [
    'Which languages are spoken in the country of this flag?',
    'List the official languages of this flag\'s country.',
    'What do people speak where this flag is flown?',
  ],
  demonym: [
    'What are the people of this flag\'s country called?',
    'Give the demonym for the country with this flag.',
    'How do you refer to a citizen of this flag\'s country?',
  ],
  neighbours: [
    'Which countries border the country with this flag?',
    'List the neighbouring countries of this flag\'s country.',
    'Name the land neighbours of the country this flag represents.',
  ],
  landlocked: [
    'Is the country with this flag landlocked? Answer yes or no.',
    'Does this flag\'s country lack a coastline? Answer yes or no.',
  ],
  callingCode: [
    'What is the international calling code of this flag\'s country?',
    'Which phone prefix do you dial to call the country with this flag?',
  ],
  tld: [
    'What internet domain ending does the country with this flag use?',
    'Give the country-code top-level domain of this flag\'s country.',
  ],
  description: [
    'Describe this flag in detail.',
    'Give a complete description of the flag and its country.',
    'Find a detailed caption for this flag.',
    'Write a dense description covering the country, its region, its facts and the flag\'s colours.',
  ],
};

/** How each colour region is named inside a template's `{where}`. */
export const REGION_PHRASES: Readonly<Record<string, readonly string[]>> = {
  top: ['upper half', 'top part'],
  bottom: ['lower half', 'bottom part'],
  left: ['left half', 'left side'],
  right: ['right half', 'right side'],
  centre: ['centre', 'middle'],
};

/** Fill `{name}` slots; an unknown slot is a programming error. */
export function fillTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new Error(`template "${template}" needs {${key}}, which was not given.`);
    return v;
  });
}
