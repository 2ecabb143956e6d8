# cmake -DIN=FILE -DOUT=FILE.c -P embed.cmake: the bytes of IN as `const unsigned char nf_status_page[]`
# (bytes, NUL-terminated), for a file too long for one C string literal.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by core/embed.cmake */\nconst unsigned char nf_status_page[] = {${bytes}0};\n")
