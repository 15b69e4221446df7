//! The `--rule`/`--where` parser and evaluator: any text parses to a rule or
//! to an error with a column inside the text (plus one, for the end).
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::rule::Rule;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Rule::parse(text) {
        Ok(rule) => {
            let _ = rule.eval(&synlab::model::craft::linux_example());
            let _ = rule.attributes_used();
            // What Display prints must parse again (it is how rules are shown).
            let shown = rule.expr.to_string();
            let _ = Rule::parse(&shown);
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e}");
            let _ = e.render(text);
        }
    }
});
