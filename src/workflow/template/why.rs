//! Why a template is refused where it stands: one reason per context,
//! each with the message the loader prints at the template.

/// Why a template cannot be kept literal where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    SingleQuotes,
    AnsiC,
    Comment,
    QuotedHeredoc,
    HeredocDelimiter,
    AfterBackslash,
    AfterDollar,
    Arith,
    ArithCommand,
    ArithBracket,
    Param,
    DoubleBracket,
    Evaluates(&'static str),
    ShellScript(&'static str),
    ShellStdin(&'static str),
    VarName(&'static str),
    Subscript,
    ArrayAssign,
    DynamicName,
    Integer,
    Alias,
    /// The text uses something bash evaluates variables in.
    Flow(&'static str),
    /// The lexer cannot tell how every shell reads what follows.
    Lost(&'static str),
}

const ARRAY_WHY: &str =
    "bash evaluates array subscripts as arithmetic, running any `$(...)` the value holds";

impl Why {
    pub fn message(self) -> String {
        let unsafe_in = |what: &str, why: &str| {
            format!(
                "a template inside {what} is not safe: {why}; pass the value through the step's `env` and check it there"
            )
        };
        let arith = "the shell evaluates the value as an expression (bash even runs `$(...)` in array subscripts)";
        match self {
            Why::SingleQuotes => "a template inside single quotes would never be expanded; use double quotes or none".to_string(),
            Why::AnsiC => "a template inside `$'...'` would never be expanded; use double quotes or none".to_string(),
            Why::Comment => "a template inside a `#` comment would never be expanded; remove it, or end the comment before it".to_string(),
            Why::QuotedHeredoc => "a template inside a quoted here-document (`<<'EOF'`, `<<\"EOF\"`) would never be expanded; leave the delimiter unquoted".to_string(),
            Why::HeredocDelimiter => "a template cannot be a here-document's delimiter; write the delimiter literally".to_string(),
            Why::AfterBackslash => "a `\\` right before a template would escape its quoting; remove the `\\`".to_string(),
            Why::AfterDollar => "a `$` right before a template would make it another expansion; remove the `$`".to_string(),
            Why::Arith => unsafe_in("arithmetic `$(( ))`", arith),
            Why::ArithCommand => unsafe_in("arithmetic `(( ))`", arith),
            Why::ArithBracket => unsafe_in("arithmetic `$[ ]`", arith),
            Why::Param => unsafe_in(
                "a parameter expansion `${...}`",
                "the shell reads it as part of the expansion (a pattern, an offset or an unquoted default)",
            ),
            Why::DoubleBracket => unsafe_in(
                "`[[ ]]`",
                "bash evaluates the operands of `-eq` and the like as arithmetic",
            ),
            Why::Evaluates(name) => unsafe_in(
                &format!("the arguments of `{name}`"),
                &format!("`{name}` evaluates its arguments as code"),
            ),
            Why::ShellScript(shell) => format!(
                "a template inside the script of `{shell} -c` is not safe: `{shell}` runs it as code; pass the value as an argument after the script instead (`{shell} -c '... \"$1\"' _ {{{{ ... }}}}`)"
            ),
            Why::ShellStdin(shell) => unsafe_in(
                &format!("a here-document given to `{shell}`"),
                &format!("`{shell}` runs its input as code"),
            ),
            Why::VarName(name) => unsafe_in(
                &format!("a variable name given to `{name}`"),
                "bash runs any `$(...)` in the array subscript of a name",
            ),
            Why::Subscript => unsafe_in("an array subscript", ARRAY_WHY),
            Why::ArrayAssign => unsafe_in("an array assignment `NAME=( )`", ARRAY_WHY),
            Why::DynamicName => unsafe_in(
                "the arguments of a command whose name is an expansion",
                "the name could be `eval`, which runs its arguments as code",
            ),
            Why::Integer => unsafe_in(
                "an assignment in a command that declares integer or reference variables (`declare -i`, `-n`)",
                "bash evaluates what is assigned to them",
            ),
            Why::Alias => unsafe_in(
                "a command that defines an alias",
                "an alias changes how the words after it are read",
            ),
            Why::Flow(what) => format!(
                "a template in a command that uses {what} is not safe: bash evaluates the value of a variable there (running any `$(...)` in an array subscript), and the template's value could reach it through a variable; pass the value through the step's `env` and check it there"
            ),
            Why::Lost(after) => format!(
                "signalbox cannot follow the shell's quoting after {after}, so it cannot prove this template stays literal; write that part of the command another way"
            ),
        }
    }
}
