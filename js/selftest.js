// The self-test run at load. One known vector made by whistle.crypto
// (tests/js/test_interop.py re-checks it there): a code and install salt whose
// keys are the first vector of tests/vectors/derivation.json, and a follow-up
// that Python's records.seal_followup wrote with those keys to one desk. Opening it
// both ways exercises BLAKE2b (keyed and as crypto_kdf), X25519, crypto_box,
// crypto_box_seal, secretstream and the framing. Then an envelope written here
// must open here, and a tampered one must not; an Ed25519 signature made here must
// verify, and an altered one must not. If any of it fails, this
// browser's crypto cannot be trusted and the page must not encrypt with it.

import { equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import { SOURCE_RECORD, signObject, verifyObject } from './conversation.js';
import { deriveSourceKeys } from './derive.js';
import { EnvelopeWriter, associatedData, boxedTo, openEnvelope, sealedTo } from './envelope.js';
import { BadSignatureError, SelfTestError, TamperedError } from './errors.js';
import { PartKind } from './framing.js';
import { openAsSource } from './records.js';

export const VECTOR = Object.freeze({
  code: 'DX6EAA29DX2QZ3JWW75KR',
  installSalt: 'ccc47f59427fe763fa56e31ae2c283376a7670fe40b61e45b72977fd217155d1',
  loginToken: '396b6d02b848f364499a5292f3cf9b75a7f0203f68c01dffe9b627d257ce1a1d',
  replyPublicKey: '192cb08f9ce0d2d8279ea1b3738afa2648e6850ee3829457f8b33d567fee7839',
  deskSecretKey: 'aaddd66775636fd3fdc6e7dbb80f737fa89f6b3e33dcfadd1d34ea761051f9e3',
  caseId: '68994e76e94ebb250c2c45d9419074bc',
  message: 'whistle self-test',
  // base64 of the follow-up envelope
  envelope: [
    'V0hFTlYBAgEZLLCPnODS2CeeobNzivomSOaFDuOClFf4sz1Wf+54OQLmXW03SNlYWA6sbYgNvbVtqEqOr/6GcuysGl6trL4L',
    'T4Ptll0nYYdoA+SLpJNfaWBzaGV7zW565pghhsp9f+YAHWYS8iJKqLEB4HEX1GBWUfRCQH2gGR83ndTDfjboi0yRhepANis5',
    '4wp32w5o+hOYOuQ8Hd6W/dOFZ4MnRFdrYlu6ppzJePheIECdFCPjyrBKLInLxxdfVvbqEpvc1oQvfJM7wYuM8ReMHhu1XTPv',
    'fOkM+z22Nytk8V/7S6f2JNR8w+itElD1g65+GDlzjJ059gnunAvf5jC5/srmQ3QNBJoVZzDH+Y+aC8wajXCRnSsIKTl8kPEI',
    'pt5Ya/c+E2yCh8xVYylY+Tu+0z3RYO8zS8ypigLrU4xti9tLwb1UsfGdMJBKLo7vkTEZkMzc+2bPZpPHi9sa+jsPBnK1fyfn',
    'bpaASyaiW+9hNMrN1R+mAGaq7J7QUscv5cSI9569crsybjFpvo2vZgSwUJfEkzYTOje4LevQ8SsXwk9Z4iiPNCG9YAkwfnCa',
    'kRtAfCPixSKpr6HpxDNIc0HmEYjp7I3tnj+CyhxMbnR9SjAq43cGQ7Uc38iUs/G48x9cC9sxy20K2Jn9Y8Q9pQMc0KlCWETX',
    'ElQqiOQL8psDkvTmWEvqK1I7ZzFaeVjWlkLYYtwQoz0bqD+73kCiakddqlGYG0hReu+nyzgX64/WddGI9/dn4lPtI5usFIyk',
    'AkOdhz1LLkzWy0GmRiRbhnC0nOYbgKyb0ico9iBa5XQf2/55wT8I7Aeyqdr6IrRvSyRTxtVfQbLH6IBxzfVWH2PON1eBVCo2',
    'JzimmLOuSV2+iYEplQxxn6kTJTFfLV92ZzV38fZqlUNRb+yYAc5IuM92kLsqiomBBxp9sqdlqZNelYXh1u/6/vII8wWCOL7o',
    'OcW2EOoDu6AIiRQwW0Xrh/yJXk9MpkRRzUdXopoBwO/aqP1DwnKdDH2ExBZNlMMqdPCBAuQDSpCd6XP+igXGV6F6wHiZBI4E',
    'BeQcTpsIvSU0mzvetLQfiw1HOe+LJiBhaAwLimqDJasNJpCjMystX75x0ZBc7edT45biEH3m5o9GDjHUpEB0wNgDaxKiKYg9',
    '0YYnJknc6KWlhpJusHoRT6yu87JsCqkOnjlPkxpF6BtXRtuDYp1nm/89EJXNSMj1SN5ARqqESpP5OkEsKtjTRhMLtLjscO4E',
    'OFE9CULxOL8EWlemfXFTipEqpYUxc0sqU1OfpZBVh0oAD2BUz11xk6L0dmK2L/193IVn+oXHybp2kWxK36tCh7uz0H6OA1eg',
    'EX1Ol4MhDv3IazadArV7/MdF7uuosBhGkK5sOOwZ1+9mQ22/yCqDYG9IW08dfH3MM2WkBMMotGpQxOTE5bsLwMHh6DFNRyXk',
    'c+5fKVgZidD79uFyx6tGEd46xm97CTtgSl2lBeYhP2e74N8zVnxh/H+whOGHJeWvqwV8V/3ajy/JYZ7xLfSEVwqEiPOKcLj0',
    'ld2GtSY3B1p5qr+/k35cPBYjRi5joeG3X8KFlQKnMD2c8nEyIPVxqD645NScyc0/8NkX14I32aqqJBB3IONHilygdLaAF0KE',
    'ZVAIgJ5+0wIQY+3i8yezheq2tKcGbWZgMyo3TtSnhHPtLXsY6ntSn6BzG6kGnn9pQucjgUEtMzcSbhQJL+SDh6TOfXhG/BAQ',
    '/TA9BEJuS2j5XrzYZ1FbYM8/NtjmC5ycWX2U2yQMZB6K4Ty2cHMtjANuCIC5j/LMEmTQBrC4S+yQ2CLycFt/4dVPd7ZYSk9Z',
    'xzfLCw+JgAE9rF4Kn2Fu7NqhBvUI492ssT3iBqsL4PzZt6EkM91WhqZG0oi+YMWMrSF41yj7hL/spHCPaZ56Dwj3EmOrYaUb',
    'WWwbh3lkp70XSJy8DhHeqQqIsyLfXeJsIdKodNIACDWSWpHYS2uQXO5WBXsw8Uq8B9oKPKObV5yq6QWnV8hVEncb3XfwwX3a',
    'jyyDl++iKiXzAd6EiyQEtVyEk+4Al60Tb1ISIKUce2EKGxq2O3J8rRv1pH2ptmpINnP0F8KRlQq7nCze0B/6KVsg+F4i8iGc',
    'GJyDYsWdgFW3mPVG+Qz22T1VVd1/F+yBRVppbxruRDVdDlqddUahWhX2OicsYZ0GvU/Z9HH+vQkdZvpERYKniYtIntrXYOiP',
    'zOXl1AE5wH4wf8mlybEzj/PEeMLrGmyK45tRX2YukXYXUKL/lPX1xLsgf3lQEJpHCMhZufr4LKIrjZw8iHcjWCvrRVnHTDV1',
    '33Cy47A+2ny0vSyZH3ph1IBsflRBKHxX4B1WdSiv3AbAHZWMI9ltcK11njrIUT2TGDjZbmd5es3+Z7bctabIyagMIqaoicrE',
    'Ly6Sm8WJ3m7jKNQqI5WZSg4AdwkkRYSwC7TB02Rzh4+6IHO1jl3hnOdN/NGzLyBiRWDu+1/sEmjwR6aQi5t1zV4xqkJJs5rB',
    'GqXfCj92cG/ufXS878w6QU4nr8wJNyooiHPr5trb6wfQ9i5/sS4dnBsZE5FXPg3r6VGOLEuWVKjGBIS6KKVmiC9ZefkpIhQS',
    'm1F5IOkbdwx7pp3u/PjAEVnAaDeaV6suR2UUUYnOrmamDLU2ENWYoP1wpY72xm3ZZHgVhudDV7aPRHrwHG5GXKmANcKbyb6n',
    'O2p9jAnDHHOgE7bzpw4fW0B1F8yGunpEpQc+jjJ+kL5KQNdcEnx5bc5hT8YMxwHlpWfgwMmu3WH5m9Gr/0EuCmVT0LwwukwA',
    'AB/sk8WQANj4vnYcu6eATzYXuEf1zLnp53VHAIcOXY/VZ/ta5iCtOt9GXZSe0kcngRhsjmyEpj+r6YOTulHXSG2oDI5Hnmq5',
    'vah9MZ39MvuCDtt5d/lMF2hSiilIRBOPtPIN6Fh2wOIhgAFY9xMLiDxzHtHtiYbWU0uXXkzQOvHaDcmyybHiyg5dkW/Bsc9j',
    'Kz4K8P7atMEjQGLJMtw/yp19G8h3alWdrFmxqhBP6tgCzl4R9YLZahq2saCuQrL4jW0CFCICxz/df6PJCDx1Hb/GpZK4gO6A',
    'rYaIuogw0blO/7SlUtP2dwGauRcUKwy3fAAGw0FFw3ZhpXhB/OvLLBR3+bh/ubJwUtjEzhpD6qspZ+6/9fMAtv1OUWenK3tC',
    'nNPrM2vsd//GE4yKYLZa0QYGGFN2CT9O/Q33b4KD1DLrxX/17C7Zpq9w9lOkWzGDObkj+9tCxOwf1WfdGT32dzKdveQ87dQX',
    'oUo8+Ltis2HJHp0thXaxUCa0PVqsOaC07vvIWAjgYbAOPtL+FsgFSLr2BTOPQGffQQDR95htQCAoEsZ/VbFoYqhfmdbaU4i4',
    'WAIL/r7lHE6+FRGd2TWJjDcxwt0O2Culq00Xs5qs7jObIgw/NiG4ZTSKMOwgMvRUibGV6JeYkYr5oZL0FOFj4YfGphCFKcUG',
    'W2SHGKdP59A+wL6zQkX8K86OyjBrMy3eO8Jej9ZSrWaBrJBXfbH0ReBSEqhMv0tfc5cBAFUelgAHfXT/3CxUTeEPdd/I0MiI',
    'ZIEFH/ym/MA4odvLAiGBb7qT4HpcGsXWgfe9UD57ckUO9gJHo8rTi65ABvMjdUceK4FrQZI9bfzTdbl5WQTVZWX9J42kHsts',
    'fjSLvWG46qJNWYMtrgq0TDFmmWT+0BdhB0yYm5NnlHW+oq6FS+i0PdD/INX0gmaoON8XFgWuvHH8JhipmFZcMkV3ZBPODfZT',
    'dwT5SoETMcUvvYpuhNSVEahtCMT1HbfInrgfSXkQfjscFkRovHuabWi9eyjpNmz2beWRMRESG6P3Z9RgKrQ9VHFanhzDzt2U',
    'zGZs7vx2aGETen5ABqd1Ao2BvcpG43nvTL6u1wLkYW6aAEhk80Bzy1hCFlNAGfbmOGSMA1g+YV8Op7Ku9uq3HRAQNz6c+HK5',
    'RHNlm7OV1LRsfkmpe/dXtRn3G6Zlsv1HCU8TVaAbJkPO9QfgfNrMUkpYd5Xl4Tg56M8x1R/k34oVNoL4vY1auzfeZeZtHgly',
    'XEQ+zvzR8Cj7FhiIMiCThO9LXZxbMyyROpV080VZg5x76lKSDvg2X8gnI5G9ex/DtZ7+ZkWybLUTv9rOeWvtq7GBktus7h8/',
    'JoDR4smGTCjKaY9KFbqqVTacqt8e2sgLGz43IDnaKa+H6YoPOSYLNPbK3vo3A5JqxI708SFxH8vsIxsTjIkyzpTjCi06K+kL',
    'tLJ0MOuYmml34FM3EUVrG0yhdyUuYinl8MKCw83y1XkedOoFdvATNkyvODxG8+6jBQlBiONUuaYxZ9htPzSPiqN3OZwCUG8Q',
    '9WFxLv6+xk1yEIQTYrHYBSYnWcR1s0Wl1mYMLAKLNmGzf9aDIszFfoBQg0ihwUV0r3MIWWXB38FNpxSaKFbdRohqpjRveG2M',
    'QERU0ycPv4ptK5oBMREcr0Ae7vLvJRoI2slxtEQWugJAydOu1OsW6GBhGUwq/myPIp+sOHWVXbJcWjkSTGni6j2Y3NgcHp8r',
    'aSWafarw8K4gef3jrPZqH92bVI99sYS4daZo2bB1VL1NmgPBVMHFA0XksG5W3tDwlI1pT8BmKihDh96ermhUYhyaT25UMCAh',
    'UU8yb3fV7O6RDH+DKONWRlvXD5vsIURFDQMVhDBNwoPUJgKm+K8DCVIeVC1yCbtV5FR+whT4eJVX/ZGv9fM+Nt2SHAcp4QhC',
    'Ie0IpVs2AQjUatdjhdZ6JIKrpYYnOcjbPlOUKdiiyXtYxjY4G6RVSFElcWBEItLrswiZPGemRdBKDVcMVWkydftJFbGJBB2A',
    '2Z9yXRTQfEi6JCe5F8nbvIqthHPlVrDasOncf5fod2MP5qR2Dgu8zWeIK0ZlMyJgReac7HRLWZlj4E1IBJC11cRZc/abY5Tc',
    'LwX6m93ZJ83kpguF9zYjGyNKRFa6H35eGeaHIorlOYRVi44qd1NEq671pO2vBS/w5YGiRCifNgBzs6x+yhFEwFrT8v+VQgyY',
    'jr5bO6g7T1w/IhAaa9vxsHW+djrDgpq87a3Q3MQ85H7eIAiA5IIFEoFpHNbSoZoJMlk6G/DH14nYgHsma1+lmxZjGFCF9puq',
    'BcNOB019qZMNS2/Yn+9wzOxiM9bEEWzWUU3ejerJiePOpxnFB4WYizOr4bBTLd8m8F9oYakJ0piv9TIXDjK4CIyffPUv3iNa',
    'mwMTb2V6wQRQsAUyipbxHFTOBlyU5itqbODs9AKfCyYI37BjOREWM71lS5BJiOvXqvs+epvcoEBXBJthgrBpx7nSNCf432nr',
    '+15VJS3mPLClS0jaUHHQZ1dALtQOVMv6OZ0BwrCABfpMY84HYp2AMevBN7aQNlacrTNXLn6FVtVl6ztWLpnRYATzhS78PIyC',
    'KofWDM7dgPW4CCpdROQV7rE7VjoFjIbRtAOUbu/mT+g6cXLqUCKiWUkoyL/f7HDC0rF5IYfXTHyfhzyUEfFVPXXg9VsMAovg',
    'iWlnUEZRyc2kUTiYD/xPWiKIXxWaCzNJflzNI1x2uuTjtXZIJXLogvzXxHINtOLRzkcH+rJT7LYiCRB+TNQAZui5GGRxifu8',
    'rL3zueknbOuu5m5PLfzCGu2FZ2EME6p7bXwnw8ktoM4kQ6MwMT4MqKx9n2QQhuRfC0u9f92xIwofFSIkzM9uQNsc63wa3CmQ',
    'Gxe/8hUxMOBOj7I5ttohQqqD5l2H0C2Z+KWrX4m+DGRqLG12PdeIg5swlNrUd5iiZS8eaT2RFJeMQvgJNK/MYS9Y+QCRiGnZ',
    'pwA1qBcp2xWMS7U=',
  ].join(''),
});

function check(condition, what) {
  if (!condition) throw new SelfTestError(`self-test failed: ${what}`);
}

function join(pieces) {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

/** Resolves when every check passes; rejects with SelfTestError otherwise. */
export async function selfTest(sodium) {
  const v = VECTOR;
  const keys = deriveSourceKeys(sodium, v.code, fromHex(v.installSalt));
  check(toHex(keys.loginToken) === v.loginToken, 'login token derivation');
  check(toHex(keys.replyPublicKey) === v.replyPublicKey, 'reply key derivation');

  const caseId = fromHex(v.caseId);
  const envelope = sodium.from_base64(v.envelope, sodium.base64_variants.ORIGINAL);
  const unsigned = { signedCase: false };
  const own = await openAsSource(sodium, envelope, 'followup', keys.replySecretKey, caseId, unsigned);
  check(own.message === v.message, 'opening a sealed slot');
  const deskSecret = fromHex(v.deskSecretKey);
  const asDesk = await openEnvelope(sodium, envelope, deskSecret, associatedData('followup', caseId));
  check(equalBytes(asDesk.senderPublicKey, keys.replyPublicKey), 'opening a boxed slot');

  // Written here, opened here: boxed and sealed slots, two chunks.
  const pieces = [];
  const ad = associatedData('followup', caseId);
  const deskPublic = sodium.crypto_scalarmult_base(deskSecret);
  const writer = new EnvelopeWriter(sodium, (b) => pieces.push(b), [boxedTo(deskPublic), sealedTo(keys.replyPublicKey)], ad, {
    senderSecretKey: keys.replySecretKey,
  });
  const big = new Uint8Array(70000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  writer.addText('message', v.message);
  writer.addBytes('file', big, PartKind.FILE);
  writer.finish();
  const written = join(pieces);
  const opened = await openEnvelope(sodium, written, deskSecret, ad);
  check(equalBytes(opened.senderPublicKey, keys.replyPublicKey), 'round trip: sender');
  check(equalBytes(opened.parts[1].content, big), 'round trip: content');
  const again = await openAsSource(sodium, written, 'followup', keys.replySecretKey, caseId, unsigned);
  check(again.message === v.message, 'round trip: own copy');
  written[written.length - 1] ^= 1;
  let refused = false;
  try {
    await openEnvelope(sodium, written, deskSecret, ad);
  } catch (error) {
    refused = error instanceof TamperedError;
  }
  check(refused, 'a tampered envelope is refused');

  // Signatures (protocol 2): what this browser signs verifies, an altered message does not.
  const message = utf8(v.message);
  const signed = signObject(sodium, keys.signingSeed, SOURCE_RECORD, message);
  check(equalBytes(verifyObject(sodium, keys.signingPublicKey, SOURCE_RECORD, signed), message), 'signing');
  signed[signed.length - 70] ^= 1;
  let forged = false;
  try {
    verifyObject(sodium, keys.signingPublicKey, SOURCE_RECORD, signed);
  } catch (error) {
    forged = error instanceof BadSignatureError;
  }
  check(forged, 'an altered signed message is refused');
}
