// Preact with htm: components written as tagged templates, no build step.
import { h, render, createContext } from './preact.mjs';
import { useState, useEffect, useRef, useContext, useCallback, useMemo } from './hooks.mjs';
import htm from './htm.mjs';

export const html = htm.bind(h);
export { h, render, createContext, useState, useEffect, useRef, useContext, useCallback, useMemo };

// What every page gets: the translator and the signed-in caller (GET /api/v1/me).
export const Ctx = createContext(null);
export const useApp = () => useContext(Ctx);

export function Notice({ kind = 'info', children }) {
	return html`<p class=${'notice ' + kind} role=${kind === 'error' ? 'alert' : 'status'}>${children}</p>`;
}
