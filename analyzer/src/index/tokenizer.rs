//! The `agentsight` tokenizer: words for alphabetic scripts, character bigrams for CJK.
//!
//! Chinese and Japanese have no spaces, so a word tokenizer would index a whole sentence as one
//! token (and drop it for length). Instead a run of CJK ideographs, kana or hangul becomes
//! overlapping bigrams (`测试通过` -> `测试 试通 通过`) at consecutive positions; the query parser
//! runs the same tokenizer, so a query of two or more CJK characters is a phrase of bigrams and
//! matches wherever those characters stand next to each other. A run of one character is
//! indexed as a unigram, so a one-character query finds only such lone characters.
//!
//! Everything else alphanumeric is split into words as tantivy's `SimpleTokenizer` does, then
//! lowercased and ASCII-folded; tokens of more than [`MAX_TOKEN_BYTES`] are dropped (base64
//! blobs and hashes would only bloat the term dictionary).

use std::str::CharIndices;

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The name the tokenizer is registered under and the text fields use.
pub const TOKENIZER: &str = "agentsight";

/// Longer tokens are dropped.
pub const MAX_TOKEN_BYTES: usize = 64;

/// The full analyzer: [`CjkBigramTokenizer`], long tokens removed, lowercased, ASCII-folded.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigramTokenizer::default())
        // `RemoveLongFilter` keeps tokens strictly shorter than its limit.
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES + 1))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The name of the keyword analyzer: the whole value as one token, lowercased (`provider`,
/// `detector`).
pub const KEYWORD: &str = "agentsight_keyword";

/// The keyword analyzer registered as [`KEYWORD`].
pub fn keyword() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build()
}

/// True for characters written without spaces between words: CJK ideographs (with the
/// iteration marks), hiragana, katakana (half-width too) and hangul.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'             // 々 〇
        | '\u{3041}'..='\u{309F}'           // hiragana
        | '\u{30A0}'..='\u{30FF}'           // katakana, including ー
        | '\u{31F0}'..='\u{31FF}'           // katakana phonetic extensions
        | '\u{FF66}'..='\u{FF9F}'           // half-width katakana
        | '\u{3400}'..='\u{4DBF}'           // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'           // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'           // CJK compatibility ideographs
        | '\u{20000}'..='\u{3FFFF}'         // CJK extensions B and later
        | '\u{1100}'..='\u{11FF}'           // hangul jamo
        | '\u{3130}'..='\u{318F}'           // hangul compatibility jamo
        | '\u{A960}'..='\u{A97F}'           // hangul jamo extended A
        | '\u{AC00}'..='\u{D7FF}'           // hangul syllables, jamo extended B
    )
}

/// Splits text into words and CJK bigrams, without any normalisation (see [`analyzer`]).
#[derive(Clone, Default, Debug)]
pub struct CjkBigramTokenizer {
    token: Token,
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = CjkBigramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkBigramStream<'a> {
        self.token.reset();
        CjkBigramStream { text, chars: text.char_indices(), in_run: None, token: &mut self.token }
    }
}

/// The tokens of one text.
#[derive(Debug)]
pub struct CjkBigramStream<'a> {
    text: &'a str,
    chars: CharIndices<'a>,
    /// Inside a CJK run: the character whose bigram with the next one comes next.
    in_run: Option<(usize, char)>,
    token: &'a mut Token,
}

impl CjkBigramStream<'_> {
    fn emit(&mut self, from: usize, to: usize) -> bool {
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.token.position.wrapping_add(1);
        true
    }

    /// Continues a CJK run whose first character `(at, c)` has just been read.
    fn bigram_from(&mut self, at: usize, c: char) -> Option<bool> {
        let next = at + c.len_utf8();
        match self.text[next..].chars().next() {
            Some(d) if is_cjk(d) => {
                self.chars.next();
                self.in_run = Some((next, d));
                Some(self.emit(at, next + d.len_utf8()))
            }
            _ => None,
        }
    }
}

impl TokenStream for CjkBigramStream<'_> {
    fn advance(&mut self) -> bool {
        if let Some((at, c)) = self.in_run.take() {
            // The last character of a run was already covered by the bigram before it.
            if let Some(emitted) = self.bigram_from(at, c) {
                return emitted;
            }
        }
        while let Some((at, c)) = self.chars.next() {
            if is_cjk(c) {
                return match self.bigram_from(at, c) {
                    Some(emitted) => emitted,
                    None => self.emit(at, at + c.len_utf8()),
                };
            }
            if c.is_alphanumeric() {
                let end = self.text[at..]
                    .char_indices()
                    .find(|&(_, d)| !d.is_alphanumeric() || is_cjk(d))
                    .map_or(self.text.len(), |(i, _)| at + i);
                // Skip the word's remaining characters.
                while self.chars.offset() < end {
                    self.chars.next();
                }
                return self.emit(at, end);
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// (text, position) of every token the full analyzer makes.
    fn tokens(text: &str) -> Vec<(String, usize)> {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.position));
        }
        out
    }

    fn texts(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn latin_words_are_lowercased_and_folded() {
        assert_eq!(
            texts("Run `pytest -q` in /home/Ünïcode_dir"),
            ["run", "pytest", "q", "in", "home", "unicode", "dir"]
        );
    }

    #[test]
    fn chinese_runs_become_overlapping_bigrams() {
        assert_eq!(tokens("测试通过"), [("测试".to_string(), 0), ("试通".to_string(), 1), ("通过".to_string(), 2)]);
    }

    #[test]
    fn a_lone_cjk_character_is_a_unigram() {
        assert_eq!(texts("a测b 好"), ["a", "测", "b", "好"]);
    }

    #[test]
    fn mixed_scripts_keep_consecutive_positions() {
        assert_eq!(
            tokens("运行pytest测试。OK"),
            [("运行".to_string(), 0), ("pytest".to_string(), 1), ("测试".to_string(), 2), ("ok".to_string(), 3)]
        );
    }

    #[test]
    fn japanese_kana_and_kanji_make_one_run() {
        assert_eq!(texts("テストが通った"), ["テス", "スト", "トが", "が通", "通っ", "った"]);
    }

    #[test]
    fn korean_hangul_is_bigrammed() {
        assert_eq!(texts("테스트 통과"), ["테스", "스트", "통과"]);
    }

    #[test]
    fn tokens_longer_than_the_cap_are_dropped() {
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        let kept = "b".repeat(MAX_TOKEN_BYTES);
        assert_eq!(texts(&format!("x {long} {kept}")), ["x".to_string(), kept]);
    }

    proptest! {
        /// Offsets always point at the token's own text, positions count up by one, and every
        /// CJK character of the input is inside some token.
        #[test]
        fn offsets_positions_and_coverage_hold(text in "[a-zA-Z0-9 _./测试通过テスト한국어。\\-]{0,40}") {
            let mut tokenizer = CjkBigramTokenizer::default();
            let mut stream = tokenizer.token_stream(&text);
            let mut covered = vec![false; text.len()];
            let mut expected_position = 0;
            while let Some(t) = stream.next() {
                prop_assert_eq!(&text[t.offset_from..t.offset_to], t.text.as_str());
                prop_assert_eq!(t.position, expected_position);
                expected_position += 1;
                for c in covered.iter_mut().take(t.offset_to).skip(t.offset_from) {
                    *c = true;
                }
            }
            for (at, c) in text.char_indices() {
                prop_assert_eq!(covered[at], c.is_alphanumeric(), "char {:?} at {}", c, at);
            }
        }
    }
}
