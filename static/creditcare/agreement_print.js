// The printable agreement's Print button (a script file: the Content-Security-Policy refuses
// inline event handlers).
"use strict";
document.querySelector("[data-print]").addEventListener("click", () => window.print());
