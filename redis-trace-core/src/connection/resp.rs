//! Reading commands back from the RESP bytes redis-rs's blocking API hands to a connection.

/// The commands packed in `bytes` (each an array of bulk strings). Parsing stops at the first
/// malformed byte: what could be read is returned, nothing panics.
pub(crate) fn parse_commands(mut bytes: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut commands = Vec::new();
    while !bytes.is_empty() {
        let Some((args, rest)) = parse_command(bytes) else {
            break;
        };
        commands.push(args);
        bytes = rest;
    }
    commands
}

fn parse_command(bytes: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    let (count, mut rest) = parse_header(bytes, b'*')?;
    let mut args = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let (len, after) = parse_header(rest, b'$')?;
        let arg = after.get(..len)?;
        rest = after.get(len..)?.strip_prefix(b"\r\n")?;
        args.push(arg);
    }
    Some((args, rest))
}

/// `<prefix><decimal>\r\n`.
fn parse_header(bytes: &[u8], prefix: u8) -> Option<(usize, &[u8])> {
    let bytes = bytes.strip_prefix(&[prefix])?;
    let end = bytes.iter().position(|&b| b == b'\r')?;
    let number = std::str::from_utf8(&bytes[..end]).ok()?.parse().ok()?;
    Some((number, bytes.get(end..)?.strip_prefix(b"\r\n")?))
}

#[cfg(test)]
mod tests {
    use super::parse_commands;

    #[test]
    fn parses_packed_commands_and_survives_garbage() {
        let packed = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(
            parse_commands(packed),
            vec![vec![&b"GET"[..], b"k"], vec![b"PING"]]
        );
        assert_eq!(
            parse_commands(b"*2\r\n$3\r\nGET\r\n$99\r\nk\r\n"),
            Vec::<Vec<&[u8]>>::new()
        );
        assert_eq!(parse_commands(b"garbage"), Vec::<Vec<&[u8]>>::new());
        let binary = b"*2\r\n$3\r\nGET\r\n$2\r\n\xff\r\r\n";
        assert_eq!(parse_commands(binary), vec![vec![&b"GET"[..], b"\xff\r"]]);
    }
}

/// Property tests (proptest): the reader reads anything without panicking, and reads back what
/// redis-rs packs.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::parse_commands;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn the_resp_reader_reads_anything_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let commands = parse_commands(&bytes);
            let total: usize = commands.iter().flatten().map(|arg| arg.len()).sum();
            prop_assert!(total <= bytes.len());
        }

        #[test]
        fn the_resp_reader_reads_back_what_redis_rs_packs(
            commands in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
                1..4,
            ),
        ) {
            let mut pipeline = redis::pipe();
            for args in &commands {
                let mut cmd = redis::Cmd::new();
                for arg in args {
                    cmd.arg(arg.as_slice());
                }
                pipeline.add_command(cmd);
            }
            let packed = pipeline.get_packed_pipeline();
            let read: Vec<Vec<Vec<u8>>> = parse_commands(&packed)
                .into_iter()
                .map(|args| args.into_iter().map(<[u8]>::to_vec).collect())
                .collect();
            prop_assert_eq!(read, commands);
        }
    }

    /// 100 000 nested array headers and a 10 MB bulk string: read or refused, never a panic.
    #[test]
    fn pathological_inputs_stay_bounded() {
        let nested = b"*1\r\n".repeat(100_000);
        let _ = parse_commands(&nested);
        let huge = vec![b'x'; 10 * 1024 * 1024];
        let mut big = b"*1\r\n$10485760\r\n".to_vec();
        big.extend_from_slice(&huge);
        big.extend_from_slice(b"\r\n");
        let read = parse_commands(&big);
        assert_eq!(read[0][0].len(), huge.len());
    }
}
