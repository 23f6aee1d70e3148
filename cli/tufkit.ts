#!/usr/bin/env node
console.log('tufkit');
