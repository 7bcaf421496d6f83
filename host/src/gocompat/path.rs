//! Go's `path.Clean` for slash-separated paths: the client cleans the paths it adds, the REST
//! API redirects unclean request paths (as gorilla/mux does) and cleans pin paths (as boxo's
//! `path.NewPath` does). Lexical only: nothing here touches the file system.

/// Go's `path.Clean`: repeated slashes and `.` segments go, `..` removes the segment before
/// it (at the root it is dropped, in a relative path it is kept when nothing precedes it),
/// a trailing slash goes, and the empty path is `"."`.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_clean() {
        // Go's path_test.go cleantests, abridged
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("/", "/"),
            ("abc/", "abc"),
            ("/abc/def/", "/abc/def"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("a//b/./../c", "a/c"),
            ("/..", "/"),
            ("../x", "../x"),
            ("//id", "/id"),
            ("/pins/./a/../b", "/pins/b"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }
}
