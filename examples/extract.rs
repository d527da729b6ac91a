//! Dev helper: print the text the HTML extractor produces for a file.
fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(d) = nianbao::parse::decode::decode(&bytes, None) else {
            continue;
        };
        println!("{}", nianbao::parse::html::extract(&d.text).text);
    }
}
