use super::*;
use crate::pii::aad;

fn id(s: &str) -> KeyId {
    KeyId::parse(s).unwrap()
}

fn b64(byte: u8) -> String {
    BASE64.encode([byte; 32])
}

fn ring_text(active: &str, index_key: &str, keys: &[(&str, &str)]) -> String {
    let mut text = format!("active = \"{active}\"\nindex_key = \"{index_key}\"\n[keys]\n");
    for (k, v) in keys {
        text.push_str(&format!("{k} = \"{v}\"\n"));
    }
    text
}

fn invalid_message(text: &str) -> String {
    match KeyRing::from_toml_str(text) {
        Err(PiiError::InvalidKeyRing(message)) => message,
        other => panic!("expected InvalidKeyRing, got {other:?}"),
    }
}

#[test]
fn sealed_field_opens_with_the_same_key_and_aad() {
    let ring = KeyRing::generate(id("k1"));
    let ad = aad("svoy-krug", "member-1", "name");
    let sealed = ring.seal_str(&ad, "Анна Петрова").unwrap();
    assert_eq!(sealed.key_id, id("k1"));
    assert_eq!(sealed.ciphertext.len(), NONCE_LEN + "Анна Петрова".len() + 16);
    assert_eq!(ring.open_string(&sealed.key_id, &ad, &sealed.ciphertext).unwrap(), "Анна Петрова");
    let raw = ring.seal(&ad, &[0, 255, 7]).unwrap();
    assert_eq!(ring.open(&raw.key_id, &ad, &raw.ciphertext).unwrap(), vec![0, 255, 7]);
}

#[test]
fn ciphertext_moved_to_another_row_or_field_does_not_open() {
    let ring = KeyRing::generate(id("k1"));
    let sealed = ring.seal_str(&aad("t", "member-1", "phone"), "+79123456789").unwrap();
    for wrong in [aad("t", "member-2", "phone"), aad("t", "member-1", "name"), aad("u", "member-1", "phone")] {
        assert_eq!(ring.open(&sealed.key_id, &wrong, &sealed.ciphertext), Err(PiiError::Decrypt));
    }
}

#[test]
fn tampered_or_truncated_ciphertext_does_not_open() {
    let ring = KeyRing::generate(id("k1"));
    let ad = aad("t", "m", "name");
    let sealed = ring.seal_str(&ad, "Анна").unwrap();
    for i in 0..sealed.ciphertext.len() {
        let mut bytes = sealed.ciphertext.clone();
        bytes[i] ^= 0x01;
        assert_eq!(ring.open(&sealed.key_id, &ad, &bytes), Err(PiiError::Decrypt), "byte {i}");
    }
    for len in [0, 10, NONCE_LEN, NONCE_LEN + 15, sealed.ciphertext.len() - 1] {
        let cut = &sealed.ciphertext[..len];
        assert_eq!(ring.open(&sealed.key_id, &ad, cut), Err(PiiError::Decrypt), "len {len}");
    }
}

#[test]
fn field_sealed_before_rotation_still_opens_and_new_seals_use_the_new_key() {
    let mut ring = KeyRing::generate(id("k1"));
    let ad = aad("t", "m", "birthday");
    let old = ring.seal_str(&ad, "1990-05-17").unwrap();
    ring.rotate(id("k2")).unwrap();
    assert_eq!(ring.active_key_id(), &id("k2"));
    assert_eq!(ring.open_string(&old.key_id, &ad, &old.ciphertext).unwrap(), "1990-05-17");
    let new = ring.seal_str(&ad, "1990-05-17").unwrap();
    assert_eq!(new.key_id, id("k2"));
    assert_eq!(ring.open(&id("k1"), &ad, &new.ciphertext), Err(PiiError::Decrypt));
    assert_eq!(ring.open_string(&new.key_id, &ad, &new.ciphertext).unwrap(), "1990-05-17");
}

#[test]
fn rotation_to_an_id_already_in_the_ring_is_refused() {
    let mut ring = KeyRing::generate(id("k1"));
    ring.rotate(id("k2")).unwrap();
    assert_eq!(ring.rotate(id("k1")), Err(PiiError::DuplicateKey(id("k1"))));
    assert_eq!(ring.active_key_id(), &id("k2"));
}

#[test]
fn unknown_key_id_is_reported_as_unknown_key() {
    let ring = KeyRing::generate(id("k1"));
    let ad = aad("t", "m", "name");
    let sealed = ring.seal_str(&ad, "Анна").unwrap();
    assert_eq!(ring.open(&id("k9"), &ad, &sealed.ciphertext), Err(PiiError::UnknownKey(id("k9"))));
}

#[test]
fn another_ring_cannot_open_a_field() {
    let a = KeyRing::generate(id("k1"));
    let b = KeyRing::generate(id("k1"));
    let ad = aad("t", "m", "name");
    let sealed = a.seal_str(&ad, "Анна").unwrap();
    assert_eq!(b.open(&sealed.key_id, &ad, &sealed.ciphertext), Err(PiiError::Decrypt));
}

#[test]
fn same_plaintext_seals_differently_but_phone_forms_share_one_blind_index() {
    let ring = KeyRing::generate(id("k1"));
    let ad = aad("t", "m", "phone");
    let first = ring.seal_str(&ad, "+79123456789").unwrap();
    let second = ring.seal_str(&ad, "+79123456789").unwrap();
    assert_ne!(first.ciphertext, second.ciphertext);

    let spoken = Phone::parse("8 (912) 345-67-89").unwrap();
    let e164 = Phone::parse("+79123456789").unwrap();
    assert_eq!(ring.blind_index(&spoken), ring.blind_index(&e164));
    let other_number = Phone::parse("+79123456780").unwrap();
    assert_ne!(ring.blind_index(&e164), ring.blind_index(&other_number));
    let other_ring = KeyRing::generate(id("k1"));
    assert_ne!(ring.blind_index(&e164), other_ring.blind_index(&e164));
}

#[test]
fn blind_index_survives_data_key_rotation_and_matches_plain_hmac() {
    let mut ring = KeyRing::from_toml_str(&ring_text("k1", &b64(9), &[("k1", &b64(1))])).unwrap();
    let phone = Phone::parse("+79123456789").unwrap();
    let before = ring.blind_index(&phone);
    ring.rotate(id("k2")).unwrap();
    assert_eq!(ring.blind_index(&phone), before);

    let mut mac = <HmacSha256 as hmac::Mac>::new_from_slice(&[9u8; 32]).unwrap();
    hmac::Mac::update(&mut mac, b"phone:+79123456789");
    let expected: [u8; 32] = hmac::Mac::finalize(mac).into_bytes().into();
    assert_eq!(before.as_bytes(), &expected);
}

#[test]
fn text_form_roundtrips_and_keeps_every_key() {
    let ad = aad("t", "m", "name");
    let mut ring = KeyRing::generate(id("k1"));
    let old = ring.seal_str(&ad, "Анна").unwrap();
    ring.rotate(id("k2")).unwrap();
    let text = ring.to_toml_string();
    let back = KeyRing::from_toml_str(&text).unwrap();
    assert_eq!(back.active_key_id(), &id("k2"));
    assert_eq!(back.to_toml_string(), text);
    assert_eq!(back.open_string(&old.key_id, &ad, &old.ciphertext).unwrap(), "Анна");
    let phone = Phone::parse("+79123456789").unwrap();
    assert_eq!(back.blind_index(&phone), ring.blind_index(&phone));
}

#[test]
fn text_form_in_the_documented_layout_is_read() {
    let ring = KeyRing::from_toml_str(&ring_text("k2", &b64(0), &[("k1", &b64(1)), ("k2", &b64(2))])).unwrap();
    assert_eq!(ring.active_key_id(), &id("k2"));
}

#[test]
fn text_form_with_active_key_missing_is_refused() {
    let message = invalid_message(&ring_text("k2", &b64(0), &[("k1", &b64(1))]));
    assert!(message.contains("active key k2 is not in [keys]"), "{message}");
}

#[test]
fn text_form_with_a_key_of_wrong_length_is_refused() {
    let short = BASE64.encode([1u8; 16]);
    let message = invalid_message(&ring_text("k1", &b64(0), &[("k1", &short)]));
    assert!(message.contains("key k1 must be 32 bytes, got 16"), "{message}");
    let message = invalid_message(&ring_text("k1", &short, &[("k1", &b64(1))]));
    assert!(message.contains("index_key must be 32 bytes"), "{message}");
}

#[test]
fn text_form_with_bad_base64_is_refused_without_echoing_it() {
    let message = invalid_message(&ring_text("k1", &b64(0), &[("k1", "not*base64!")]));
    assert!(message.contains("key k1 is not valid base64"), "{message}");
    assert!(!message.contains("not*base64"), "{message}");
}

#[test]
fn text_form_with_bad_ids_fields_or_shape_is_refused() {
    let message = invalid_message(&ring_text("K1", &b64(0), &[("K1", &b64(1))]));
    assert!(message.contains("active key id \"K1\""), "{message}");
    let message = invalid_message(&ring_text("k1", &b64(0), &[("k1", &b64(1)), ("Bad", &b64(2))]));
    assert!(message.contains("key id \"Bad\""), "{message}");
    let message = invalid_message(&format!("{}extra = 1\n", ring_text("k1", &b64(0), &[])));
    assert!(!message.is_empty());
    let message = invalid_message(&format!("active = \"k1\"\n[keys]\nk1 = \"{}\"\n", b64(1)));
    assert!(message.contains("index_key"), "{message}");
    let secret = b64(7);
    let message = invalid_message(&format!("active = \"k1\"\nindex_key = \"{}\"\nkeys = \"{secret}\"\n", b64(0)));
    assert!(!message.contains(&secret), "{message}");
}

#[test]
fn text_form_with_index_key_equal_to_a_data_key_is_refused() {
    let message = invalid_message(&ring_text("k1", &b64(1), &[("k1", &b64(1))]));
    assert!(message.contains("equals index_key"), "{message}");
}

#[test]
fn debug_output_never_contains_key_bytes() {
    let mut ring = KeyRing::generate(id("k1"));
    ring.rotate(id("k2")).unwrap();
    let shown = format!("{ring:?}");
    assert!(shown.contains("DataKey(<redacted>)"), "{shown}");
    let text = ring.to_toml_string();
    for line in text.lines() {
        if let Some((_, value)) = line.split_once(" = \"") {
            let secret = value.trim_end_matches('"');
            if secret.len() == 44 {
                assert!(!shown.contains(secret), "{shown}");
                let bytes = BASE64.decode(secret).unwrap();
                assert!(!shown.contains(&format!("{bytes:?}")), "{shown}");
            }
        }
    }
    let key = DataKey::from_bytes([0xab; 32]);
    assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    assert_eq!(format!("{:?}", IndexKey::from_bytes([0xab; 32])), "IndexKey(<redacted>)");
}

#[test]
fn toml_errors_name_the_line_and_the_missing_field() {
    let message = invalid_message(&format!("active = \"k1\"\nindex_key = \"{}\"\n[keys]\nk1 = 5\n", b64(0)));
    assert!(message.contains("line 4"), "{message}");
    let message = invalid_message("active = \"k1\"\n[keys]\n");
    assert!(message.contains("missing field `index_key`"), "{message}");
    let message = invalid_message(&format!("unknown = 1\n{}", ring_text("k1", &b64(0), &[])));
    assert!(message.contains("unknown field `unknown`"), "{message}");
}
