# Runs in the container: the workspace is the working folder, the file is the first argument.
words=$(wc -w < "$1" | tr -d ' ')
echo "counted $words words in $1 (input: $INPUT_FILE)"
echo "words=$words" >> "$GITHUB_OUTPUT"
echo "WORDS_COUNTED=$words" >> "$GITHUB_ENV"
