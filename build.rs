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
        // Above the broker's in-flight limit (mosquitto: 20, more after reconnects): a full
        // table closes the connection until the broker's PUBRELs free room.
        default: 64,
        min: 1,
        max: 1024,
        doc: "Incoming QoS 2 packet ids remembered until their PUBREL (> the broker's in-flight limit).",
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
            assert!(
                (cap.min..=cap.max).contains(&value),
                "{} must be in {}..={}, got {}",
                cap.env,
                cap.min,
                cap.max,
                value
            );
            (cap, value)
        })
        .collect()
}

/// Bytes of `mqe_client_t` for a target with `pointer_bytes`-byte pointers.
///
/// The client's size is linear in the capacities. The coefficients are `size_of` the client
/// measured on x86_64 and thumbv7em at capacities from 1 to their maxima (exact fits), plus a
/// margin for the steps heapless takes when its length type widens. The static assert in
/// `src/ffi/cell.rs` fails the build if this ever underestimates (then re-measure), and
/// `tests/ffi.rs` fails if it wastes more than the margin.
fn client_size(pointer_bytes: usize, values: &[(&Capacity, usize)]) -> usize {
    let cap = |name: &str| {
        values
            .iter()
            .find(|(cap, _)| cap.konst == name)
            .map_or(0, |(_, value)| *value)
    };
    let (base, per_capacity) = match pointer_bytes {
        8 => CLIENT_SIZE_64,
        _ => CLIENT_SIZE_32,
    };
    let bytes = per_capacity
        .iter()
        .fold(base + CLIENT_SIZE_MARGIN, |sum, (name, per)| {
            sum + per * cap(name)
        });
    // The outbox and the per-topic handlers are plain repr(C) arrays: their size is exact
    // (src/ffi/outbox.rs and src/ffi/cell.rs), so they are computed, not measured.
    let round = |n: usize, to: usize| n.div_ceil(to) * to;
    let slot = round(6 + cap("OUTBOX_SLOT_BYTES"), 2);
    let outbox = round(2 * pointer_bytes + cap("OUTBOX_SLOTS") * slot, 8);
    let handler = round(
        2 * pointer_bytes + 4 + cap("HANDLER_FILTER_BYTES"),
        pointer_bytes,
    );
    let handlers = cap("MAX_TOPIC_HANDLERS") * handler;
    (bytes + outbox + handlers).div_ceil(8) * 8
}

/// (base, bytes per unit of each capacity), measured with `size_of` on x86_64 and thumbv7em.
type SizeFormula = (usize, [(&'static str, usize); 8]);
const CLIENT_SIZE_64: SizeFormula = (
    792,
    [
        ("MAX_INFLIGHT", 16),
        ("MAX_RX_QOS2", 4),
        ("MAX_PENDING_SUBS", 16),
        ("MAX_SUBSCRIPTIONS", 32),
        ("SUB_FILTER_BYTES", 1),
        ("MAX_ENDPOINTS", 24),
        ("OFFLINE_QOS0_MSGS", 24),
        ("OFFLINE_QOS0_BYTES", 1),
    ],
);
const CLIENT_SIZE_32: SizeFormula = (
    496,
    [
        ("MAX_INFLIGHT", 12),
        ("MAX_RX_QOS2", 4),
        ("MAX_PENDING_SUBS", 12),
        ("MAX_SUBSCRIPTIONS", 20),
        ("SUB_FILTER_BYTES", 1),
        ("MAX_ENDPOINTS", 12),
        ("OFFLINE_QOS0_MSGS", 12),
        ("OFFLINE_QOS0_BYTES", 1),
    ],
);
const CLIENT_SIZE_MARGIN: usize = 32;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let values = capacity_values();
    let mut config = String::from("// Generated by build.rs from MQE_* environment variables.\n");
    for (cap, value) in &values {
        config.push_str(&format!(
            "/// {} Env `{}`, default {}.\npub const {}: usize = {};\n",
            cap.doc, cap.env, cap.default, cap.konst, value
        ));
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("config.rs"), config).expect("write config.rs");

    let pointer_bits: usize = env::var("CARGO_CFG_TARGET_POINTER_WIDTH")
        .ok()
        .and_then(|bits| bits.parse().ok())
        .unwrap_or(64);
    let size = client_size(pointer_bits / 8, &values);
    fs::write(
        out.join("client_size.rs"),
        format!(
            "/// Bytes of `mqe_client_t` for this target and these capacities.\n\
             pub const MQE_CLIENT_SIZE: usize = {size};\n"
        ),
    )
    .expect("write client_size.rs");

    #[cfg(feature = "header")]
    header::generate(&values);
}

/// `include/mqtt_engine.h`, generated by cbindgen from `src/ffi/` (feature `header`).
#[cfg(feature = "header")]
mod header {
    use super::{client_size, Capacity};
    use std::{env, path::PathBuf};

    pub fn generate(values: &[(&Capacity, usize)]) {
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
            .with_after_include(build_time_macros(values) + &status_macros())
            .generate()
            .expect("cbindgen could not generate the header");
        let mut text = Vec::new();
        bindings.write(&mut text);
        let text = parenthesize_negative_defines(&String::from_utf8(text).expect("UTF-8 header"));
        let text = c89_comments(&text);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).expect("create the header's directory");
        }
        // Rewrite only on change, so the header's mtime means something.
        if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&out, text).expect("write the header");
        }
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

    /// The capacities this library was built with, and the client size they imply.
    fn build_time_macros(values: &[(&Capacity, usize)]) -> String {
        let mut text = String::from(
            "\n/* mqe_client_t is 8-byte aligned; compilers without GNU attributes get the\n   \
             natural alignment of uint64_t, which is 8 on ARM (AAPCS) and x86-64. */\n\
             #if defined(__GNUC__) || defined(__clang__) || defined(__CC_ARM)\n\
             #define MQE_ALIGNED(n) __attribute__((aligned(n)))\n\
             #else\n\
             #define MQE_ALIGNED(n)\n\
             #endif\n\
             \n/* Build-time capacities (environment variables read by build.rs). */\n",
        );
        for (cap, value) in values {
            text.push_str(&format!(
                "/** {} Env {}, default {}. */\n#define {} {}\n",
                cap.doc, cap.env, cap.default, cap.env, value
            ));
        }
        text.push_str(&format!(
            "\n/** Bytes of mqe_client_t for these capacities (depends on the pointer width). */\n\
             #if UINTPTR_MAX > 0xFFFFFFFFu\n\
             #define MQE_CLIENT_SIZE {}\n\
             #else\n\
             #define MQE_CLIENT_SIZE {}\n\
             #endif\n",
            client_size(8, values),
            client_size(4, values)
        ));
        text
    }
}
