//! Build-time capacities come from environment variables, never from editing the source.
//! They are written to `$OUT_DIR/config.rs` and become `crate::config`.

use std::{env, fs, path::PathBuf};

struct Capacity {
    env: &'static str,
    konst: &'static str,
    default: usize,
    min: usize,
    max: usize,
    doc: &'static str,
}

const CAPACITIES: &[Capacity] = &[
    Capacity {
        env: "MQE_MAX_INFLIGHT",
        konst: "MAX_INFLIGHT",
        default: 8,
        min: 1,
        max: 1024,
        doc: "Outgoing QoS 1/2 messages awaiting their acknowledgement (the window's cap).",
    },
    Capacity {
        env: "MQE_MAX_RX_QOS2",
        konst: "MAX_RX_QOS2",
        // 4 bytes each: one id with its content hash, or a run of consecutive ids (a broker that
        // numbers in sequence fills one run with thousands). 62 keeps the table, with its length
        // and two counters, at 260 bytes: what 64 plain ids cost before (docs/DELIVERY.md).
        default: 62,
        min: 1,
        max: 1024,
        doc: "Entries for incoming QoS 2 ids awaiting PUBREL: one id with its hash, or a run of consecutive ids.",
    },
    Capacity {
        env: "MQE_MAX_PENDING_SUBS",
        konst: "MAX_PENDING_SUBS",
        default: 4,
        min: 1,
        max: 256,
        doc: "SUBSCRIBE and UNSUBSCRIBE packets awaiting SUBACK or UNSUBACK.",
    },
    Capacity {
        env: "MQE_MAX_SUBSCRIPTIONS",
        konst: "MAX_SUBSCRIPTIONS",
        default: 8,
        min: 1,
        max: 256,
        doc: "Subscriptions remembered and renewed when the broker kept no session.",
    },
    Capacity {
        env: "MQE_SUB_FILTER_BYTES",
        konst: "SUB_FILTER_BYTES",
        default: 256,
        min: 16,
        max: 16384,
        doc: "Bytes for the filters of the remembered subscriptions, together.",
    },
    Capacity {
        env: "MQE_MAX_ENDPOINTS",
        konst: "MAX_ENDPOINTS",
        default: 4,
        min: 1,
        max: 16,
        doc: "Broker endpoints the client walks through when it reconnects (failover).",
    },
    Capacity {
        env: "MQE_OFFLINE_QOS0_MSGS",
        konst: "OFFLINE_QOS0_MSGS",
        default: 8,
        min: 0,
        max: 1024,
        doc: "QoS 0 messages queued while disconnected (0: QoS 0 needs a connection).",
    },
    Capacity {
        env: "MQE_OFFLINE_QOS0_BYTES",
        konst: "OFFLINE_QOS0_BYTES",
        default: 512,
        min: 0,
        max: 65536,
        doc: "Bytes for the topics and payloads of the queued QoS 0 messages, together.",
    },
    Capacity {
        env: "MQE_OUTBOX_SLOTS",
        konst: "OUTBOX_SLOTS",
        default: 4,
        min: 1,
        max: 256,
        doc: "Messages mqe_post_publish can hold (any task or ISR) until the owner's mqe_poll drains them.",
    },
    Capacity {
        env: "MQE_OUTBOX_SLOT_BYTES",
        konst: "OUTBOX_SLOT_BYTES",
        default: 96,
        min: 8,
        max: 8192,
        doc: "Bytes of topic + payload one mqe_post_publish slot holds.",
    },
    Capacity {
        env: "MQE_MAX_TOPIC_HANDLERS",
        konst: "MAX_TOPIC_HANDLERS",
        default: 4,
        min: 1,
        max: 64,
        doc: "Per-topic message handlers (mqe_subscribe_cb) registered at once.",
    },
    Capacity {
        env: "MQE_HANDLER_FILTER_BYTES",
        konst: "HANDLER_FILTER_BYTES",
        default: 48,
        min: 1,
        max: 1024,
        doc: "Longest topic filter of a per-topic handler, in bytes.",
    },
];

fn capacity_values() -> Vec<(&'static Capacity, usize)> {
    CAPACITIES
        .iter()
        .map(|cap| {
            println!("cargo:rerun-if-env-changed={}", cap.env);
            let value = match env::var(cap.env) {
                Ok(text) => text.trim().parse::<usize>().unwrap_or_else(|_| {
                    panic!("{} must be a whole number, got {:?}", cap.env, text)
                }),
                Err(_) => cap.default,
            };
            // Without the `offline-queue` feature the queue has no room: QoS 0 needs a
            // connection (the capacity's documented 0), and its code folds away.
            let value =
                match cap.env.starts_with("MQE_OFFLINE_QOS0_") && !feature_on("OFFLINE_QUEUE") {
                    true => 0,
                    false => value,
                };
            // Without `resubscribe` nothing is remembered: no table (0, below the minimum a
            // build with the feature needs).
            let forgets = !feature_on("RESUBSCRIBE")
                && matches!(cap.env, "MQE_MAX_SUBSCRIPTIONS" | "MQE_SUB_FILTER_BYTES");
            // Without `reconnect` there is no failover: one broker endpoint.
            let value = match cap.env == "MQE_MAX_ENDPOINTS" && !feature_on("RECONNECT") {
                true => 1,
                false => value,
            };
            // Without `qos2` no incoming QoS 2 id is ever remembered: the table's minimum.
            let value = match cap.env == "MQE_MAX_RX_QOS2" && !feature_on("QOS2") {
                true => 1,
                false => value,
            };
            assert!(
                (cap.min..=cap.max).contains(&value),
                "{} must be in {}..={}, got {}",
                cap.env,
                cap.min,
                cap.max,
                value
            );
            (cap, if forgets { 0 } else { value })
        })
        .collect()
}

/// Bytes of `mqe_client_t` for a target with `pointer_bytes`-byte pointers.
///
/// The client's size is linear in the capacities. The coefficients are `size_of` the client
/// measured on x86_64 and thumbv7em (and i686) at capacities from 1 to their maxima (exact
/// fits), plus a small margin for the padding of the byte arrays and what the features not
/// modelled below take. The static assert in `src/ffi/cell.rs` fails the build if this ever
/// underestimates (then re-measure), and `tests/ffi.rs` fails if it wastes more than 40 bytes.
fn client_size(pointer_bytes: usize, values: &[(&Capacity, usize)]) -> usize {
    // The incoming QoS 2 table exists with `qos2` or `store` only (src/session/mod.rs).
    let rx_qos2 = feature_on("QOS2") || feature_on("STORE");
    let cap = |name: &str| {
        values
            .iter()
            .find(|(cap, _)| cap.konst == name)
            .filter(|_| rx_qos2 || name != "MAX_RX_QOS2")
            .map_or(0, |(_, value)| *value)
    };
    let (base, per_capacity) = match pointer_bytes {
        8 => CLIENT_SIZE_64,
        _ => CLIENT_SIZE_32,
    };
    // With QoS 2, each in-flight entry keeps its PUBREL bookkeeping (a word with padding).
    let pubrel = usize::from(rx_qos2) * pointer_bytes * cap("MAX_INFLIGHT");
    // The byte arrays (filters, the offline queue's arena) end in up to a word of padding.
    let word = |name: &str| cap(name).div_ceil(pointer_bytes) * pointer_bytes;
    let bytes = per_capacity.iter().fold(
        base + CLIENT_SIZE_MARGIN + feature_bytes(pointer_bytes) + pubrel,
        |sum, (name, per)| match name.ends_with("_BYTES") {
            true => sum + per * word(name),
            false => sum + per * cap(name),
        },
    );
    // The outbox and the per-topic handlers are plain repr(C) arrays: their size is exact
    // (src/ffi/outbox.rs and src/ffi/cell.rs), so they are computed, not measured.
    let round = |n: usize, to: usize| n.div_ceil(to) * to;
    let slot = round(6 + cap("OUTBOX_SLOT_BYTES"), 2);
    let on = |name: &str| env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let outbox = match on("OUTBOX") {
        true => round(2 * pointer_bytes + cap("OUTBOX_SLOTS") * slot, 8),
        false => 0,
    };
    let handler = round(
        2 * pointer_bytes + 4 + cap("HANDLER_FILTER_BYTES"),
        pointer_bytes,
    );
    let handlers = match on("TOPIC_HANDLERS") {
        true => cap("MAX_TOPIC_HANDLERS") * handler,
        false => 0,
    };
    let store = store_feature_bytes(pointer_bytes);
    (bytes + outbox + handlers + cloud_feature_bytes(pointer_bytes) + store).div_ceil(8) * 8
}

/// Feature `store`: the engine's reference to the session store (a fat pointer), the ids
/// awaiting `mqe_rx_done` (src/engine/manual_ack.rs: 8 of 4 bytes, a flag, a count), and the
/// event queue's fifth slot, its events 8 bytes instead of 6 (`Event::Restored`).
fn store_feature_bytes(pointer_bytes: usize) -> usize {
    if env::var_os("CARGO_FEATURE_STORE").is_some() {
        2 * pointer_bytes + 4 * 8 + 2 + 16
    } else {
        0
    }
}

fn feature_on(name: &str) -> bool {
    env::var_os(format!("CARGO_FEATURE_{name}")).is_some()
}

/// Bytes the cloud facilities add to the client cell (exact: plain fields).
fn cloud_feature_bytes(pointer_bytes: usize) -> usize {
    let on = |name: &str| env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let mut bytes = 0;
    // The credentials callback: its function, user pointer and two (pointer, cap) buffers.
    if on("CREDENTIALS_CB") {
        bytes += 6 * pointer_bytes;
    }
    // The cloud profile id (a u8) takes a byte of the cell's padding: nothing.
    bytes
}

/// Bytes the optional features add to the client (measured with `size_of`, as the base, on
/// x86_64, i686 and thumbv7em): the link state, the wire counters, and 4 bytes of padding when
/// both are in; the idle watch (2 bytes) fits in padding. `reconnect` keeps its policy, jitter,
/// endpoint index and attempt count (the count `link` keeps too); `reconnect` or `link` two
/// more of the client's own notices (`OWN_EVENTS`, a `Dispatch` of 6 words each);
/// `resubscribe` its table's length and arena use; `offline-queue` its queue's length, arena
/// use, policy and drop counters; `qos2` or `store` the incoming QoS 2 table's length and
/// counters and the session's write sequence.
fn feature_bytes(pointer_bytes: usize) -> usize {
    let on = |name: &str| env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let (link, stats, reconnect) = (on("LINK"), on("STATS"), on("RECONNECT"));
    let dispatch = 6 * pointer_bytes;
    usize::from(link) * 24
        + usize::from(stats) * 188
        + usize::from(link && stats) * 4
        + usize::from(reconnect) * (24 + pointer_bytes)
        + usize::from(link && !reconnect) * 4
        + usize::from(reconnect || link) * 2 * dispatch
        + usize::from(on("RESUBSCRIBE")) * 2 * pointer_bytes
        // A byte or two each (the log filter, the idle watch, the cloud profile): alone they
        // fit the padding, together they may not on 32-bit (64-bit has padding to spare).
        + (8 - pointer_bytes) * ["LOG", "PENDING", "CLOUD_PROFILES"].iter().filter(|name| on(name)).count()
        + usize::from(on("OFFLINE_QUEUE")) * (3 * pointer_bytes + 8)
        + usize::from(on("QOS2") || on("STORE")) * 16
}

/// (base, bytes per unit of each capacity), measured with `size_of` on x86_64 and thumbv7em.
type SizeFormula = (usize, [(&'static str, usize); 8]);
const CLIENT_SIZE_64: SizeFormula = (
    608,
    [
        ("MAX_INFLIGHT", 16),
        ("MAX_RX_QOS2", 4),
        ("MAX_PENDING_SUBS", 8),
        ("MAX_SUBSCRIPTIONS", 32),
        ("SUB_FILTER_BYTES", 1),
        ("MAX_ENDPOINTS", 32),
        ("OFFLINE_QOS0_MSGS", 24),
        ("OFFLINE_QOS0_BYTES", 1),
    ],
);
const CLIENT_SIZE_32: SizeFormula = (
    364,
    [
        ("MAX_INFLIGHT", 12),
        ("MAX_RX_QOS2", 4),
        ("MAX_PENDING_SUBS", 8),
        ("MAX_SUBSCRIPTIONS", 20),
        ("SUB_FILTER_BYTES", 1),
        ("MAX_ENDPOINTS", 16),
        ("OFFLINE_QOS0_MSGS", 12),
        ("OFFLINE_QOS0_BYTES", 1),
    ],
);
const CLIENT_SIZE_MARGIN: usize = 4;

/// Bump when a public `#[repr(C)]` type or an exported signature changes in a way the
/// capacities and features do not capture: a header and a library of different layout versions
/// must not meet. `tests/abi_guard.rs` records the public structs' layouts and fails until the
/// version is bumped.
/// 4: `link`'s and `cloud`'s `mqe_options_t` fields together.
/// 5: `mqe_event_t` gains `restored_outgoing` and `restored_rx_qos2` (the session store).
/// 6: `mqe_options_t` gains `rx_qos2_manual_ack` (the session store).
const ABI_LAYOUT_VERSION: u32 = 6;

/// Alignment of `mqe_client_t` (`#[repr(C, align(8))]` in src/ffi/types.rs).
const CLIENT_ALIGN: usize = 8;

/// Cargo features that never change the C API or a layout, so they stay out of the ABI tag.
const FEATURES_OUTSIDE_ABI: &[&str] = &["DEFAULT", "HEADER", "STD", "PANIC_TEST"];

/// The enabled features that shape the API (their `CARGO_FEATURE_*` names), sorted.
fn abi_features() -> Vec<String> {
    let mut names: Vec<String> = env::vars()
        .filter_map(|(key, _)| key.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .filter(|name| !FEATURES_OUTSIDE_ABI.contains(&name.as_str()))
        .collect();
    names.sort();
    names
}

/// FNV-1a, 32 bits: a short, stable fingerprint (not a security property).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The ABI tag of a header or library built with these capacities and features for a target
/// with `pointer_bytes`-byte pointers. `mqe_init` compares the header's against its own.
fn abi_tag(pointer_bytes: usize, values: &[(&Capacity, usize)], features: &[String]) -> u32 {
    let mut text = format!(
        "mqe-abi;layout={ABI_LAYOUT_VERSION};ptr={}",
        pointer_bytes * 8
    );
    for (cap, value) in values {
        text.push_str(&format!(";{}={}", cap.env, value));
    }
    text.push_str(&format!(
        ";size={};align={CLIENT_ALIGN};features={}",
        client_size(pointer_bytes, values),
        features.join(",")
    ));
    fnv1a32(text.as_bytes())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Opt-level 2 or 3 (the `speed` profile of hosts and `make bench`): a few hot helpers are
    // forced inline (`cfg(mqe_speed)`); the firmware's size profiles keep one copy of each.
    println!("cargo::rustc-check-cfg=cfg(mqe_speed)");
    if matches!(env::var("OPT_LEVEL").as_deref(), Ok("2" | "3")) {
        println!("cargo:rustc-cfg=mqe_speed");
    }
    let values = capacity_values();
    let features = abi_features();
    let pointer_bits: usize = env::var("CARGO_CFG_TARGET_POINTER_WIDTH")
        .ok()
        .and_then(|bits| bits.parse().ok())
        .unwrap_or(64);
    let tag = abi_tag(pointer_bits / 8, &values, &features);
    let mut config = String::from("// Generated by build.rs from MQE_* environment variables.\n");
    for (cap, value) in &values {
        config.push_str(&format!(
            "/// {} Env `{}`, default {}.\npub const {}: usize = {};\n",
            cap.doc, cap.env, cap.default, cap.konst, value
        ));
    }
    config.push_str(&format!(
        "/// The ABI tag: capacities, client size and alignment, pointer width, API features and\n\
         /// layout version, hashed (build.rs `abi_tag`). The header carries it as `MQE_ABI_TAG`.\n\
         pub const ABI_TAG: u32 = {tag:#010x};\n\
         /// Hashed into the ABI tag; bumped when a public `#[repr(C)]` type changes.\n\
         pub const ABI_LAYOUT_VERSION: u32 = {ABI_LAYOUT_VERSION};\n"
    ));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("config.rs"), config).expect("write config.rs");

    let size = client_size(pointer_bits / 8, &values);
    fs::write(
        out.join("client_size.rs"),
        format!(
            "/// Bytes of `mqe_client_t` for this target and these capacities.\n\
             pub const MQE_CLIENT_SIZE: usize = {size};\n\
             /// The ABI tag the header's `mqe_init` macro passes (`MQE_ABI_TAG`).\n\
             pub const MQE_ABI_TAG: u32 = {tag:#010x};\n"
        ),
    )
    .expect("write client_size.rs");

    #[cfg(feature = "header")]
    header::generate(&values, &features);
}

/// `include/mqtt_engine.h`, generated by cbindgen from `src/ffi/` (feature `header`).
#[cfg(feature = "header")]
mod header {
    use super::{abi_tag, client_size, Capacity, CLIENT_ALIGN};
    use std::{env, path::PathBuf};

    pub fn generate(values: &[(&Capacity, usize)], features: &[String]) {
        println!("cargo:rerun-if-env-changed=MQE_HEADER_OUT");
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        println!("cargo:rerun-if-changed=src/ffi/status_table.rs");
        let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
        let out = env::var_os("MQE_HEADER_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate_dir.join("include/mqtt_engine.h"));
        let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
            .expect("read cbindgen.toml");
        let bindings = cbindgen::Builder::new()
            .with_config(config)
            .with_src(crate_dir.join("src/ffi/mod.rs"))
            .with_after_include(build_time_macros(values, features) + &status_macros())
            .generate()
            .expect("cbindgen could not generate the header");
        let mut text = Vec::new();
        bindings.write(&mut text);
        let text = parenthesize_negative_defines(&String::from_utf8(text).expect("UTF-8 header"));
        let text = add_abi_guard(&text);
        let text = cfg_field_semicolons(&text);
        let text = c89_comments(&text);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).expect("create the header's directory");
        }
        // Rewrite only on change, so the header's mtime means something.
        if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&out, text).expect("write the header");
        }
    }

    /// cbindgen ends a `#[cfg]` struct field as `type name\n#endif\n  ;`: without the feature the
    /// lone `;` is an empty declaration, which -pedantic refuses. The `;` goes inside.
    fn cfg_field_semicolons(header: &str) -> String {
        header.replace("\n#endif\n  ;\n", ";\n#endif\n")
    }

    /// `#define X -1` breaks `a -X` (it becomes `a --1`); cbindgen drops Rust's parentheses,
    /// so they are put back here.
    fn parenthesize_negative_defines(header: &str) -> String {
        let mut text = String::with_capacity(header.len() + 256);
        for line in header.lines() {
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("#define"), Some(name), Some(value))
                    if value.starts_with('-') && value[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    text.push_str(&format!("#define {name} ({value})"));
                }
                _ => text.push_str(line),
            }
            text.push('\n');
        }
        text
    }

    /// Rewrites every `// comment` (cbindgen writes `#endif // __cplusplus`) as `/* comment */`,
    /// which C89 compilers accept. Tracks block comments and string literals across the text.
    fn c89_comments(header: &str) -> String {
        let mut text = String::with_capacity(header.len() + 64);
        let mut in_block = false;
        for line in header.lines() {
            let mut in_string = false;
            let mut chars = line.char_indices().peekable();
            let mut cut = None;
            while let Some((at, ch)) = chars.next() {
                let next = chars.peek().map(|&(_, c)| c);
                match (in_block, in_string, ch, next) {
                    (true, _, '*', Some('/')) => {
                        in_block = false;
                        chars.next();
                    }
                    (false, false, '/', Some('*')) => {
                        in_block = true;
                        chars.next();
                    }
                    (false, false, '/', Some('/')) => {
                        cut = Some(at);
                        break;
                    }
                    (false, true, '\\', _) => {
                        chars.next();
                    }
                    (false, _, '"', _) => in_string = !in_string,
                    _ => {}
                }
            }
            match cut {
                Some(at) => {
                    let comment = line[at + 2..].trim().replace("*/", "* /");
                    text.push_str(&format!("{}/* {} */", &line[..at], comment));
                }
                None => text.push_str(line),
            }
            text.push('\n');
        }
        text
    }

    /// The status codes of `src/ffi/status_table.rs` as the Rust side defines them.
    mod status {
        use std::ffi::CStr;

        pub struct Code {
            pub name: &'static str,
            pub value: i32,
            pub text: &'static CStr,
            pub doc: &'static [&'static str],
        }

        macro_rules! status_table {
            ($($(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal;)*) => {
                pub const CODES: &[Code] = &[$(Code {
                    name: stringify!($name),
                    value: $value,
                    text: $text,
                    doc: &[$($doc),*],
                }),*];
            };
        }

        include!("src/ffi/status_table.rs");
    }

    /// The status codes as `#define`s with their docs, and `MQE_STATUS_LIST(X)`, an X-macro
    /// over every code, so that C code (and the C tests) can walk them all.
    fn status_macros() -> String {
        let mut text = String::from(
            "\n/* Status codes (src/ffi/status_table.rs): MQE_OK (0) or a negative MQE_ERR_*.\n   \
             mqe_strerror(code) gives each its own text. */\n",
        );
        let mut list = String::from(
            "\n/** Every status code, for X-macros: `#define X(code) ...` then\n \
             * `MQE_STATUS_LIST(X)` expands X once per code, in the order above. */\n\
             #define MQE_STATUS_LIST(X) \\\n",
        );
        for code in status::CODES {
            text.push_str("/**\n");
            for line in code.doc {
                text.push_str(&format!(" *{}\n", line.trim_end()));
            }
            let text_of = code.text.to_str().expect("status texts are UTF-8");
            text.push_str(&format!(" * Text: \"{text_of}\".\n */\n"));
            let value = if code.value < 0 {
                format!("({})", code.value)
            } else {
                code.value.to_string()
            };
            text.push_str(&format!("#define {} {}\n", code.name, value));
            list.push_str(&format!("    X({}) \\\n", code.name));
        }
        // The list's last line ends the macro.
        list.push_str("    /* end of MQE_STATUS_LIST */\n");
        text + &list
    }

    /// The alignment macros, the capacities this library was built with, and the client size
    /// and ABI tag they imply.
    fn build_time_macros(values: &[(&Capacity, usize)], features: &[String]) -> String {
        let mut text = String::from(
            "\n/* mqe_client_t is 8-byte aligned: through a GNU attribute on the struct where the\n   \
             compiler has them (define MQE_NO_GNU_ATTRIBUTES to do without), and through\n   \
             _Alignas (C11) or alignas (C++11) on its storage member. A C99 compiler without\n   \
             either gets the natural alignment of uint64_t (8 on ARM AAPCS and x86-64, 4 on\n   \
             i386): mqe_init then refuses storage that is not 8-aligned (MQE_ERR_ALIGNMENT). */\n\
             #if !defined(MQE_NO_GNU_ATTRIBUTES) && \\\n    \
             (defined(__GNUC__) || defined(__clang__) || defined(__CC_ARM))\n\
             #define MQE_ALIGNED(n) __attribute__((aligned(n)))\n\
             #else\n\
             #define MQE_ALIGNED(n)\n\
             #endif\n\
             #ifndef MQE_ALIGNAS\n\
             #if defined(__cplusplus) && __cplusplus >= 201103L\n\
             #define MQE_ALIGNAS(n) alignas(n)\n\
             #elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L\n\
             #define MQE_ALIGNAS(n) _Alignas(n)\n\
             #else\n\
             #define MQE_ALIGNAS(n)\n\
             #endif\n\
             #endif\n\
             \n/* Build-time capacities (environment variables read by build.rs). */\n",
        );
        for (cap, value) in values {
            text.push_str(&format!(
                "/** {} Env {}, default {}. */\n#define {} {}\n",
                cap.doc, cap.env, cap.default, cap.env, value
            ));
        }
        // cbindgen.toml's [defines] wrap each optional declaration in `#if defined(MQE_FEATURE_X)`.
        text.push_str(
            "\n/* Optional facilities this library was built with (cargo features). */\n",
        );
        for name in features.iter().filter(|name| name.as_str() != "FULL") {
            text.push_str(&format!("#define MQE_FEATURE_{name} 1\n"));
        }
        text.push_str(&format!(
            "\n/** Bytes of mqe_client_t for these capacities (depends on the pointer width).\n    \
             MQE_ABI_TAG fingerprints the capacities, this size and alignment, the pointer width\n    \
             and the API's features: mqe_init passes it, and the library refuses a header built\n    \
             differently with MQE_ERR_ABI_MISMATCH. */\n\
             #if UINTPTR_MAX > 0xFFFFFFFFu\n\
             #define MQE_CLIENT_SIZE {}\n\
             #define MQE_ABI_TAG {:#010x}u\n\
             #else\n\
             #define MQE_CLIENT_SIZE {}\n\
             #define MQE_ABI_TAG {:#010x}u\n\
             #endif\n\
             /** Alignment of mqe_client_t, in bytes. */\n\
             #define MQE_CLIENT_ALIGN {CLIENT_ALIGN}\n",
            client_size(8, values),
            abi_tag(8, values, features),
            client_size(4, values),
            abi_tag(4, values, features),
        ));
        text
    }

    /// Puts `MQE_ALIGNAS` on the client's storage member (cbindgen puts `MQE_ALIGNED` on the
    /// struct only; `_Alignas` cannot go there), and defines the `mqe_init` macro right after
    /// the declaration of `mqe_init_abi`, which it calls with the header's size and tag.
    fn add_abi_guard(header: &str) -> String {
        let member = "  uint64_t opaque[MQE_CLIENT_WORDS];\n";
        assert_eq!(
            header.matches(member).count(),
            1,
            "build.rs: mqe_client_t's member changed; update add_abi_guard"
        );
        let text = header.replacen(
            member,
            &format!("  MQE_ALIGNAS({CLIENT_ALIGN}) uint64_t opaque[MQE_CLIENT_WORDS];\n"),
            1,
        );
        let start = text
            .find("mqe_status_t mqe_init_abi(")
            .expect("build.rs: mqe_init_abi is not in the header");
        let end = start
            + text[start..]
                .find(");\n")
                .expect("build.rs: mqe_init_abi's declaration has no end")
            + 3;
        let mut out = String::with_capacity(text.len() + 1024);
        out.push_str(&text[..end]);
        out.push_str(INIT_MACRO);
        out.push_str(&text[end..]);
        out
    }

    const INIT_MACRO: &str = "
/**
 * Sets up the client in caller-owned storage `c` (see mqe_init_abi for the options, ownership
 * and errors). A macro: it passes sizeof(mqe_client_t) and MQE_ABI_TAG from this header, so a
 * library built with other capacities or features returns MQE_ERR_ABI_MISMATCH instead of
 * writing past `c`, and storage that is not MQE_CLIENT_ALIGN-aligned gets MQE_ERR_ALIGNMENT.
 * No error writes to `c` or past it: only MQE_OK sets the storage up.
 */
#define mqe_init(c, opts, transport, platform) \\
  mqe_init_abi((c), (opts), (transport), (platform), sizeof(mqe_client_t), MQE_ABI_TAG)
";
}
