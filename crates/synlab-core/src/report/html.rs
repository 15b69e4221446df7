//! A small HTML writer that escapes everything it is given: text and
//! attribute values always go through [`escape`]; only tag and attribute
//! names (which are `&'static str` in the code, never data) and the page's
//! own style sheet are written as they are. Elements are closed in order
//! from a stack, so a page is always well nested.

/// `&`, `<`, `>`, `"` and `'` as character references: safe in text and in
/// a quoted attribute value, in HTML and in inline SVG.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not
            // allowed in HTML text: shown as the replacement character.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A page being written.
#[derive(Debug, Default)]
pub struct Html {
    out: String,
    open: Vec<&'static str>,
}

impl Html {
    pub fn new() -> Self {
        Html::default()
    }

    fn start_tag(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) {
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            self.out.push_str(&escape(value));
            self.out.push('"');
        }
    }

    /// Open an element; [`Html::close`] closes it.
    pub fn open(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.start_tag(tag, attrs);
        self.out.push('>');
        self.open.push(tag);
        self
    }

    /// Close the innermost open element (nothing when none is open).
    pub fn close(&mut self) -> &mut Self {
        if let Some(tag) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(tag);
            self.out.push('>');
        }
        self
    }

    /// An element holding only text.
    pub fn elem(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
        text: &str,
    ) -> &mut Self {
        self.open(tag, attrs).text(text).close()
    }

    /// An element without content: `<meta …>` in HTML, `<rect …/>` in SVG.
    pub fn empty(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.start_tag(tag, attrs);
        self.out.push_str("/>");
        self
    }

    /// Text, escaped.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.out.push_str(&escape(text));
        self
    }

    /// Markup written by the code itself (the doctype, the style sheet):
    /// `'static`, so no data can reach it.
    pub fn markup(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// The page, every element still open closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut h = Html::new();
        h.open("p", &[("title", "a\"b<c>'&")])
            .text("<script>alert(1)</script> & \u{1}");
        let page = h.finish();
        assert_eq!(
            page,
            "<p title=\"a&quot;b&lt;c&gt;&#39;&amp;\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; \u{fffd}</p>"
        );
    }

    #[test]
    fn elements_close_in_order() {
        let mut h = Html::new();
        h.open("div", &[]).open("span", &[]).text("x");
        h.close();
        h.empty("br", &[]);
        assert_eq!(h.finish(), "<div><span>x</span><br/></div>");
    }
}
