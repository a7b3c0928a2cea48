import { describe, expect, it } from 'vitest';
import { DEFAULT_PERSONAL_KEYS, PersonalKeyMatcher, personalKeyList } from './personal-keys';

describe('personal-data keys', () => {
  const matcher = new PersonalKeyMatcher(DEFAULT_PERSONAL_KEYS);
  const personal = (key: string, inTraits = false) => matcher.isPersonal(key, inTraits);

  it.each([
    'email',
    'Email',
    'EMAIL',
    'e-mail',
    'email_address',
    'emailAddress',
    'workEmail',
    'work_email',
    'Work Email',
    'billingEmail',
    'email2',
    'emails',
    'phone',
    'phone_number',
    'PhoneNumber',
    'mobilePhone',
    'homePhone',
    'mobileNumber',
    'mobile_number',
    'firstName',
    'first_name',
    'FIRST_NAME',
    'customerLastName',
    'surname',
    'fullName',
    'birthday',
    'date_of_birth',
    'address',
    'address2',
    'addressLine1',
    'address_line_2',
    'shippingAddress',
    'street',
    'emergencyContact',
  ])('%s is personal anywhere', (key) => {
    expect(personal(key)).toBe(true);
    expect(personal(key, true)).toBe(true);
  });

  it.each(['name', 'Name', 'mobile'])('%s is personal in traits only', (key) => {
    expect(personal(key)).toBe(false);
    expect(personal(key, true)).toBe(true);
  });

  it.each([
    'eventName',
    'productName',
    'companyName',
    'username',
    'ip',
    'ip_address',
    'ipAddress',
    'macAddress',
    'iphone',
    'workemail',
    'emailVerified',
    'email_opt_in',
    'phoneVerified',
    'streetName',
    'userAgent',
    'plan',
    'price',
    '123',
    '',
  ])('%s is not personal', (key) => {
    expect(personal(key)).toBe(false);
    expect(personal(key, true)).toBe(false);
  });

  it('PERSONAL_DATA_KEYS adds to the defaults and removes with -', () => {
    const list = personalKeyList('iban, *taxId, traits:nickname, -traits:name');
    const m = new PersonalKeyMatcher(list);
    expect(m.isPersonal('IBAN', false)).toBe(true);
    expect(m.isPersonal('customer_tax_id', false)).toBe(true);
    expect(m.isPersonal('nickname', false)).toBe(false);
    expect(m.isPersonal('nickname', true)).toBe(true);
    expect(m.isPersonal('name', true)).toBe(false);
    // `-surname` names no default as written: the default is `*surname`.
    expect(() => personalKeyList('-surname')).toThrow(/removes no default/);
    expect(new PersonalKeyMatcher(personalKeyList('-*surname')).isPersonal('surname', true)).toBe(false);
    expect(() => personalKeyList('*, email')).toThrow(/names no key/);
    expect(personalKeyList('')).toEqual(DEFAULT_PERSONAL_KEYS);
  });
});
