/** Entry point of the FlinkTrail web console (built by Vite into console/dist, served at /). */
import { render } from 'preact';
import { App } from './app';
import './styles.css';

render(<App />, document.getElementById('app') as HTMLElement);
